using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Dpq.Data;
using Dpq.Imaging;

namespace Dpq.Integration.Tests;

/// <summary>Uploads Fashion-MNIST images as PNG blobs with their class as metadata, as a user would.</summary>
public static class Images
{
    public static string Name(int index) => $"fmnist/test-{index:00000}.png";

    public static byte[] Png(ImageSet set, int index) =>
        ImagePreprocessor.EncodePng(set, index);

    public static Task UploadAsync(BlobContainerClient container, ImageSet set, int index) =>
        UploadAsync(container, Name(index), Png(set, index), set.ClassNameOf(index));

    public static async Task UploadAsync(BlobContainerClient container, string name, byte[] bytes, string? label)
    {
        var options = new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "image/png" } };
        if (label is { } l) options.Metadata = new Dictionary<string, string> { ["label"] = Dpq.Indexing.ClassLabel.ToMetadata(l) };
        await container.GetBlobClient(name).UploadAsync(BinaryData.FromBytes(bytes), options);
    }
}
