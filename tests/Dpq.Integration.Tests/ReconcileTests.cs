using Dpq.Indexing;
using Dpq.Ingest;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

public sealed class ReconcileTests
{
    [StorageFact]
    public async Task ImagesIndexedWithoutCopyCodesAreEncodedAgainOnceTheModelHasThem()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var reconciler = p.Reconciler(new AheadClock(TimeSpan.FromMinutes(1)));
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        for (var i = 0; i < 5; i++)
        {
            await Images.UploadAsync(images, TinyModel.TestImages, i);
            await p.Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(i)));
        }
        await p.DrainAllAsync();
        Assert.Equal(0, (await reconciler.RunAsync()).Missing);
        // Sealed, so that the rewrite below hides sealed items rather than merging into one tail.
        await p.Get<DeltaCompactor>().CompactOnceAsync(await p.ActiveIndexAsync(), settle: TimeSpan.Zero);

        // Images 0-2 as a build before copy codes stored them: a later delta with their codes and no copy codes.
        var model = (await p.Models.GetAsync())!;
        var rows = (await p.CodeRowsAsync()).Where(r => int.Parse(r.GetString("BlobName")[12..17]) < 3).ToList();
        await p.Get<IndexWriter>().WriteAsync(await p.ActiveIndexAsync(), new Dpq.Formats.CodeFormat(model.Codewords, model.Levels),
            [.. rows.Select(r => new IndexedImage(ImageId.Parse(r.RowKey), r.GetString("BlobName"), r.GetString("Label"), r.GetBinary("Code"), null))]);
        Assert.Equal(3, (await p.CodeRowsAsync()).Count(r => r.GetBinary("CopyCode") is null));

        var pass = await reconciler.RunAsync();
        Assert.Equal(3, pass.Missing);
        Assert.Equal(3, (await p.DrainAllAsync()).Indexed);
        Assert.All(await p.CodeRowsAsync(), r => Assert.Equal(Copies.CopyCodec.CodeBytes, r.GetBinary("CopyCode").Length));
        Assert.Equal(0, (await reconciler.RunAsync()).Missing);
        var copy = Imaging.CopyVariants.Make(Imaging.CopyVariant.Jpeg75, TinyModel.TestImages.Pixels.AsSpan(784, 784), 28, 28);
        Assert.Equal(Images.Name(1), (await p.Queries.QueryAsync(new Dpq.Query.QueryRequest(copy, null, null, 5, 32, null))).Results[0].BlobName);
    }

    [StorageFact]
    public async Task UploadsThatNoTriggerDeliveredAreIndexedByTheNextPass()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var reconciler = p.Reconciler(new AheadClock(TimeSpan.FromMinutes(1)));
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        for (var i = 0; i < 6; i++) await Images.UploadAsync(images, TinyModel.TestImages, i);
        // An import that stopped between its upload and its message.
        await Images.UploadAsync(p.Storage.Container(p.Storage.Names.ImportsContainer), TinyModel.TestImages, 8);
        await Images.UploadAsync(images, "bad/corrupt.png", [.. Images.Png(TinyModel.TestImages, 9)[..30], 1, 2, 3], null);
        // The trigger delivered images 0-1 and the corrupt one; 2-5 were "lost".
        foreach (var name in new[] { Images.Name(0), Images.Name(1), "bad/corrupt.png" })
            await p.Intake.HandleBlobAsync(images.GetBlobClient(name));

        var busy = await reconciler.RunAsync();
        Assert.Equal((true, 0), (busy.Ran, busy.Missing)); // work is in flight, and what it may hold is not enqueued twice
        await p.DrainAllAsync();

        var pass = await reconciler.RunAsync();
        Assert.True(pass.Ran);
        Assert.Equal(8, pass.Blobs);
        Assert.Equal(5, pass.Missing); // not the indexed ones, not the recorded failure
        Assert.Equal(5, (await p.DrainAllAsync()).Indexed);
        var rows = await p.CodeRowsAsync();
        Assert.Equal(7, rows.Count);
        Assert.Contains(rows, r => r.GetString("BlobName") == ImageLocation.ForImport(Images.Name(8)));

        var again = await reconciler.RunAsync();
        Assert.Equal(0, again.Missing);

        // Fresh uploads are left to the trigger for a while.
        var sameTime = p.Reconciler(TimeProvider.System);
        await Images.UploadAsync(images, TinyModel.TestImages, 7);
        Assert.Equal(0, (await sameTime.RunAsync()).Missing);
    }

    [StorageFact]
    public async Task UnderSteadyLoadAPassStillRunsSendsWhatIsOlderThanTheQueuedWorkAndPacksItsRequests()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        for (var i = 0; i < 3; i++) await Images.UploadAsync(images, TinyModel.TestImages, i); // their notifications were lost
        await Task.Delay(1500);
        await p.IngestAsync([3]); // load: work still queued

        var pass = await p.Reconciler(TimeProvider.System, settleTime: TimeSpan.FromSeconds(1)).RunAsync();

        Assert.Equal((true, 4, 3), (pass.Ran, pass.Blobs, pass.Missing)); // not image 3: it may be (and is) in the queue
        var queued = (await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync(32)).Value;
        Assert.Equal(2, queued.Length); // the three missing ones in one message
        Assert.Equal(4, (await p.DrainAllAsync()).Indexed);
        Assert.Equal(4, (await p.CodeRowsAsync()).Count);
    }

    [StorageFact]
    public async Task AFailureRecordDoesNotBlockAGoodOverwriteOfTheSameName()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var reconciler = p.Reconciler(new AheadClock(TimeSpan.FromMinutes(1)));
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, "later/good.png", [.. Images.Png(TinyModel.TestImages, 9)[..30], 1, 2, 3], null);
        await p.Intake.HandleBlobAsync(images.GetBlobClient("later/good.png"));
        await p.DrainAllAsync();
        Assert.NotNull(await p.Failures.FindAsync("later/good.png"));
        Assert.Equal(0, (await reconciler.RunAsync()).Missing); // the corrupt file stays refused

        // The same name written again with a good image, and its notification lost.
        await Task.Delay(1100); // past the failure record's time at the storage clock's resolution
        await Images.UploadAsync(images, "later/good.png", Images.Png(TinyModel.TestImages, 9), null);
        var pass = await reconciler.RunAsync();
        Assert.Equal(1, pass.Missing);
        Assert.Equal(1, (await p.DrainAllAsync()).Indexed);
        Assert.Contains(await p.CodeRowsAsync(), r => r.GetString("BlobName") == "later/good.png");
    }
}
