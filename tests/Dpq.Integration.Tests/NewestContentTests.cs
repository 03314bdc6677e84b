using Dpq.Formats;
using Dpq.Ingest;

namespace Dpq.Integration.Tests;

/// <summary>Whatever order workers finish in, the index ends with the code of what the blob holds now.</summary>
public sealed class NewestContentTests
{
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("the worker never reached its write");
            await Task.Delay(20);
        }
    }

    [StorageFact]
    public async Task AWorkerThatReadTheOldContentAndWritesLastDoesNotLeaveItsStaleCode()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        // Worker A's table writes are slow: it reads the first content, and writes its code after worker B has written the second's.
        var slow = new SlowRequests("batch", TimeSpan.FromSeconds(3), writes: true);
        using var a = p.Twin([slow]);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        const string name = "race/x.png";
        byte[] first = Images.Png(TinyModel.TestImages, 5), second = Images.Png(TinyModel.TestImages, 6);
        var encoder = (await p.Get<IEncoderProvider>().GetEncodersAsync())[0];
        var codes = BatchEncoder.Encode([first, second], encoder);
        Assert.False(codes.Code(0).Span.SequenceEqual(codes.Code(1).Span)); // the two contents have different codes

        await Images.UploadAsync(images, name, first, null);
        await p.Intake.HandleBlobAsync(images.GetBlobClient(name));
        var passA = a.Drainer.DrainOnceAsync();
        await WaitUntilAsync(() => slow.Held > 0); // A has read the first content and is writing
        await Images.UploadAsync(images, name, second, null);
        await p.Intake.HandleBlobAsync(images.GetBlobClient(name));
        Assert.Equal(1, (await p.DrainAllAsync()).Indexed); // B: the second content, written first
        Assert.Equal(1, (await passA).Indexed); // A: the first content, written last
        await p.DrainAllAsync();

        var now = (await images.GetBlobClient(name).GetPropertiesAsync()).Value.ETag.ToString();
        var row = Assert.Single(await p.CodeRowsAsync());
        Assert.Equal(now, row.GetString("SourceETag"));
        var model = (await p.Models.GetAsync())!;
        var snapshot = await p.Index.GetAsync(model.ModelVersion, new CodeFormat(model.Codewords, model.Levels));
        Assert.Equal(codes.Code(1).ToArray(), IndexCacheTests.Items(snapshot)[name].Code);
    }

    [StorageFact]
    public async Task ARemovalCarriedOutAfterTheBlobCameBackLeavesTheNewCode()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var slow = new SlowRequests("/" + p.Storage.Names.CodesTable, TimeSpan.FromSeconds(3), writes: true); // A's row deletes
        using var a = p.Twin([slow]);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await p.IngestAsync([7]);
        await p.DrainAllAsync();
        var blob = images.GetBlobClient(Images.Name(7));

        // Deleted: A decides the removal, and while it writes it the image is uploaded again and indexed by B.
        await blob.DeleteAsync();
        await p.Intake.HandleDeletedAsync(p.Storage.Names.ImagesContainer, Images.Name(7));
        var passA = a.Drainer.DrainOnceAsync();
        await WaitUntilAsync(() => slow.Held > 0);
        await p.IngestAsync([7]);
        await p.DrainAllAsync();
        Assert.Equal(1, (await passA).Removed);
        await p.DrainAllAsync();

        var row = Assert.Single(await p.CodeRowsAsync());
        Assert.Equal((await blob.GetPropertiesAsync()).Value.ETag.ToString(), row.GetString("SourceETag"));
        var model = (await p.Models.GetAsync())!;
        Assert.Contains(Images.Name(7), IndexCacheTests.Items(await p.Index.GetAsync(model.ModelVersion, new CodeFormat(model.Codewords, model.Levels))).Keys);
    }

    [StorageFact]
    public async Task ARequestWithoutAnETagForContentOfAnotherSizeIsNotEncoded()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        var bytes = Images.Png(TinyModel.TestImages, 3);
        await Images.UploadAsync(images, "sized/x.png", bytes, null);
        await p.Storage.Queue(p.Storage.Names.EncodeQueue).SendMessageAsync(EncodeRequest.For("sized/x.png", null, bytes.Length + 1, DateTimeOffset.UtcNow).ToJson());

        var drained = await p.DrainAllAsync();

        Assert.Equal((1, 0, 0), (drained.Received, drained.Indexed, drained.Failed));
        Assert.Empty(await p.CodeRowsAsync());
        Assert.Empty(await p.Failures.ListAsync());
    }
}
