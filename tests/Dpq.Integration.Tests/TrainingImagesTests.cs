using Dpq.Data;

namespace Dpq.Integration.Tests;

/// <summary>The labelled images in storage as training data (./dpq train --from-storage).</summary>
public sealed class TrainingImagesTests
{
    [StorageFact]
    public async Task LabelledBlobsOfBothContainersAreTrainingImagesAndTheRestIsCounted()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        var imports = p.Storage.Container(p.Storage.Names.ImportsContainer);
        await images.CreateIfNotExistsAsync();
        await imports.CreateIfNotExistsAsync();
        for (var i = 0; i < 3; i++) await Images.UploadAsync(images, Images.Name(i), Images.Png(TinyModel.TestImages, i), i < 2 ? "Écharpe" : "Bag");
        await Images.UploadAsync(images, "loose/none.png", Images.Png(TinyModel.TestImages, 3), null);
        await Images.UploadAsync(imports, "shop/a.png", Images.Png(TinyModel.TestImages, 4), "Bag");
        await imports.GetBlobClient("shop/bad.png").UploadAsync(BinaryData.FromBytes(Images.Png(TinyModel.TestImages, 5)),
            new Azure.Storage.Blobs.Models.BlobUploadOptions { Metadata = new Dictionary<string, string> { ["label"] = "bag,shoe" } });

        var (found, skipped) = await LabelledImages.FromStorageAsync(p.Storage);

        Assert.Equal(2, skipped);
        Assert.Equal(["Bag", "Écharpe"], found.ClassNames);
        Assert.Equal(4, found.Count);
        var byName = found.Files.ToDictionary(f => f.Name);
        Assert.Equal(0, byName[$"{p.Storage.Names.ImportsContainer}/shop/a.png"].Class);
        Assert.Equal(1, byName[$"{p.Storage.Names.ImagesContainer}/{Images.Name(0)}"].Class);
        Assert.Equal(Images.Png(TinyModel.TestImages, 4), byName[$"{p.Storage.Names.ImportsContainer}/shop/a.png"].Read());
        Assert.All(found.Files, f => Assert.False(string.IsNullOrEmpty(f.Version)));
    }

    [StorageFact]
    public async Task ABlobWrittenAgainAfterTheListingIsLeftOutUnread()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        for (var i = 0; i < 2; i++) await Images.UploadAsync(images, Images.Name(i), Images.Png(TinyModel.TestImages, i), "Bag");
        var (found, _) = await LabelledImages.FromStorageAsync(p.Storage);
        // Overwritten with a file far over the size limit the listing checked.
        await images.GetBlobClient(Images.Name(1)).UploadAsync(BinaryData.FromBytes(new byte[9 * 1024 * 1024]), overwrite: true);

        var decodable = found.Decodable(out var refused);

        Assert.Equal(1, decodable.Count);
        var (name, reason) = Assert.Single(refused);
        Assert.EndsWith(Images.Name(1), name);
        Assert.Contains("written again", reason);
    }
}
