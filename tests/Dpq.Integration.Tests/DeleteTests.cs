using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.Query;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>An image whose blob is deleted, or whose overwrite is refused, leaves every answer; nothing else does.</summary>
public sealed class DeleteTests
{
    private static async Task<Pipeline> IndexedAsync(int count)
    {
        var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        for (var i = 0; i < count; i++)
        {
            await Images.UploadAsync(images, TinyModel.TestImages, i);
            await p.Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(i)));
        }
        Assert.Equal(count, (await p.DrainAllAsync()).Indexed);
        return p;
    }

    /// <summary>The names every answer can reach: a query by a vector of zeros with k as large as the index.</summary>
    private static async Task<HashSet<string>> AnswerableAsync(Pipeline p)
    {
        var model = (await p.Models.GetAsync())!;
        var answer = await p.Queries.QueryAsync(new QueryRequest(null, null, new float[model.FeatureDimension], 1000, null, null));
        Assert.Equal(answer.IndexedItems, answer.Results.Count);
        return answer.Results.Select(r => r.BlobName).ToHashSet();
    }

    [StorageFact]
    public async Task ADeletedBlobLeavesTheIndexItsRowsAndAfterCompactionItsSealedFile()
    {
        using var p = await IndexedAsync(6);
        var index = await p.ActiveIndexAsync();
        await p.Get<DeltaCompactor>().CompactOnceAsync(index, settle: TimeSpan.Zero); // sealed: the removal must hide a sealed item
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);

        await images.DeleteBlobAsync(Images.Name(2));
        await p.Intake.HandleDeletedAsync(p.Storage.Names.ImagesContainer, Images.Name(2)); // as the BlobDeleted event does
        Assert.Equal(1, (await p.DrainAllAsync()).Removed);
        var left = await AnswerableAsync(p);
        Assert.Equal(5, left.Count);
        Assert.DoesNotContain(Images.Name(2), left);
        Assert.Null(await index.Rows.FindAsync(ImageId.FromBlobName(Images.Name(2))));
        var byId = await Assert.ThrowsAsync<QueryValidationException>(() => p.Queries.QueryAsync(new QueryRequest(null, Images.Name(2), null, 5, null, null)));
        Assert.Equal("Unknown id", byId.Title);

        // Compaction drops the removal with the item: the sealed files no longer hold it at all.
        Assert.Equal(1, (await p.Get<DeltaCompactor>().CompactOnceAsync(index, settle: TimeSpan.Zero)).DeltasMerged);
        var files = await Task.WhenAll((await index.Catalog.ListAsync()).Select(e => index.Files.ReadAsync(e.BlobName, null)));
        Assert.All(files, f => Assert.Equal(-1, f!.Ids.IndexOf(Images.Name(2))));
        Assert.All(files, f => Assert.Equal(0, f!.RemovedIds.Count));
        Assert.Equal(left, await AnswerableAsync(p));
    }

    [StorageFact]
    public async Task ADeleteNoEventReportedIsFoundByTheReconcilerAndABlobWrittenAgainKeepsItsCode()
    {
        using var p = await IndexedAsync(5);
        var reconciler = p.Reconciler(new AheadClock(TimeSpan.FromMinutes(1)));
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await images.DeleteBlobAsync(Images.Name(1));
        await images.DeleteBlobAsync(Images.Name(3));

        var pass = await reconciler.RunAsync();
        Assert.Equal((3, 0, 2), (pass.Blobs, pass.Missing, pass.Gone));
        // Image 3 comes back before the worker gets to its removal: the removal finds the blob and leaves it.
        await Images.UploadAsync(images, TinyModel.TestImages, 3);
        Assert.Equal(1, (await p.DrainAllAsync()).Removed);
        var left = await AnswerableAsync(p);
        Assert.Equal([Images.Name(0), Images.Name(2), Images.Name(3), Images.Name(4)], left.Order(StringComparer.Ordinal));
        Assert.Equal(0, (await reconciler.RunAsync()).Gone); // both directions settled
    }

    [StorageFact]
    public async Task AnOverwriteRefusedAtIntakeOrAtDecodeTakesTheOldCodeOut()
    {
        using var p = await IndexedAsync(4);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        // Image 0 overwritten with a type intake refuses; image 1 with bytes that do not decode.
        var refusedAtIntake = images.GetBlobClient(Images.Name(0));
        await refusedAtIntake.UploadAsync(BinaryData.FromString("not an image"), new Azure.Storage.Blobs.Models.BlobUploadOptions
        {
            HttpHeaders = new Azure.Storage.Blobs.Models.BlobHttpHeaders { ContentType = "text/plain" },
        });
        Assert.Equal(IntakeOutcome.Rejected, await p.Intake.HandleBlobAsync(refusedAtIntake));
        await Images.UploadAsync(images, Images.Name(1), [.. Images.Png(TinyModel.TestImages, 1)[..40]], "T-shirt/top");
        await p.Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(1)));

        var drained = await p.DrainAllAsync();
        Assert.Equal(1, drained.Failed);
        Assert.Equal(2, drained.Removed);
        Assert.Equal([Images.Name(2), Images.Name(3)], (await AnswerableAsync(p)).Order(StringComparer.Ordinal));
        var failures = (await p.Failures.ListAsync()).ToDictionary(f => f.BlobName);
        Assert.Equal(FailureStage.Intake, failures[Images.Name(0)].Stage);
        Assert.Equal(FailureStage.Decode, failures[Images.Name(1)].Stage);

        // A good image written over the refused one later is indexed again.
        await Images.UploadAsync(images, TinyModel.TestImages, 1);
        await p.Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(1)));
        Assert.Equal(1, (await p.DrainAllAsync()).Indexed);
        Assert.Contains(Images.Name(1), await AnswerableAsync(p));
    }

    [StorageFact]
    public async Task ARemovalReachesAVersionThatTakesNoNewCodes()
    {
        using var p = await IndexedAsync(3);
        // Another version's index of the same images, as a version kept for a rollback holds it.
        var model = (await p.Models.GetAsync())!;
        var format = new Dpq.Formats.CodeFormat(model.Codewords, model.Levels);
        var active = await p.ActiveIndexAsync();
        var kept = await p.Store.OpenOrCreateAsync("m-test-kept", 4, format);
        await p.Get<IndexWriter>().WriteAsync(kept, format, await active.Rows.ReadAllAsync().ToListAsync());

        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await images.DeleteBlobAsync(Images.Name(0));
        await p.Intake.HandleDeletedAsync(p.Storage.Names.ImagesContainer, Images.Name(0));
        Assert.Equal(1, (await p.DrainAllAsync()).Removed);
        var cache = new IndexCache(p.Store, p.QueryOptions, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<IndexCache>.Instance);
        var snapshot = await cache.GetAsync("m-test-kept", format);
        Assert.Equal(2, snapshot.Items);
        Assert.Null(await kept.Rows.FindAsync(ImageId.FromBlobName(Images.Name(0))));
    }

    [StorageFact]
    public async Task BlobDeletedEventsFromEventGridBecomeRemovalsAndAnUnreadableOneGoesToThePoisonQueueAlone()
    {
        using var p = await IndexedAsync(3);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await images.DeleteBlobAsync(Images.Name(1));
        var events = p.Storage.RawQueue(p.Storage.Names.BlobEventsQueue);
        await events.SendMessageAsync("{not json");
        await events.SendMessageAsync($$$"""{"subject":"/blobServices/default/containers/{{{p.Storage.Names.ImagesContainer}}}/blobs/{{{Images.Name(1)}}}","eventType":"Microsoft.Storage.BlobDeleted","data":{}}""");

        Assert.Equal(2, await p.Get<BlobEventRelay>().RunOnceAsync());
        Assert.Equal(1, (await p.DrainAllAsync()).Removed);
        Assert.Equal([Images.Name(0), Images.Name(2)], (await AnswerableAsync(p)).Order(StringComparer.Ordinal));
        Assert.Equal("{not json", Assert.Single((await p.Storage.RawQueue(p.Storage.Names.BlobEventsPoisonQueue).ReceiveMessagesAsync(10)).Value).Body.ToString());
        Assert.Empty((await events.ReceiveMessagesAsync(10)).Value);
    }
}
