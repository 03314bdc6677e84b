using System.Text;
using System.Text.Json;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.Query;
using Dpq.Storage;

namespace Dpq.Integration.Tests;

/// <summary>Upload -> intake -> queue -> worker -> table + manifest -> query, on Azurite with a real model.</summary>
public sealed class PipelineTests
{
    private static Task IngestAsync(Pipeline p, IEnumerable<int> indices) => p.IngestAsync(indices);

    [StorageFact]
    public async Task UploadedImagesAreIndexedOnceAndScoredExactly()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        const int n = 60;
        await IngestAsync(p, Enumerable.Range(0, n));
        var drained = await p.DrainAllAsync();
        Assert.Equal(n, drained.Indexed);

        var rows = await p.CodeRowsAsync();
        Assert.Equal(n, rows.Count);
        Assert.Equal(n, rows.Select(r => r.GetString("BlobName")).Distinct().Count());
        var model = (await p.Models.GetAsync())!;
        Assert.All(rows, r => Assert.StartsWith(model.ModelVersion + "_s", r.PartitionKey, StringComparison.Ordinal));
        Assert.All(rows, r => Assert.Equal(TinyModel.TestImages.ClassNameOf(int.Parse(r.GetString("BlobName")[12..17])), r.GetString("Label")));
        var index = await p.ActiveIndexAsync();
        Assert.Equal(p.Options.ShardCount, index.ShardCount);
        Assert.All(rows, r => Assert.Equal(index.ShardOf(r.GetString("BlobName")), IndexKeys.ShardOf(r.PartitionKey)));
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value);

        // Query by image at every code length: all items come back, best first, and each similar
        // result's score is exactly the query's lookup-table sum over that item's stored code; the
        // near-duplicates that lead score above every one of them.
        var codes = rows.ToDictionary(r => r.GetString("BlobName"), r => r.GetBinary("Code"));
        var queryImage = Images.Png(TinyModel.TestImages, 400);
        foreach (var bits in model.CodeLengths)
        {
            var response = await p.Queries.QueryAsync(new QueryRequest(queryImage, null, null, n, bits, null));
            Assert.Equal(n, response.Results.Count);
            Assert.Equal(n, response.IndexedItems);
            Assert.Equal(bits, response.Bits);
            Assert.True(response.Results.Zip(response.Results.Skip(1)).All(x => x.First.Score >= x.Second.Score), "results are not sorted by score");

            var pre = new Imaging.ImagePreprocessor(28, 28);
            var pixels = new float[784];
            pre.Decode(queryImage, pixels);
            var levels = bits / 8;
            var tables = model.Codebooks.LookupTables(model.EncodeFeatures(pixels, 1), levels);
            Assert.NotNull(response.NearDuplicateScoreFloor);
            Assert.All(response.Results, h => Assert.Equal(h.Match == QueryHit.NearDuplicate, h.Score >= response.NearDuplicateScoreFloor));
            foreach (var hit in response.Results.Where(h => h.Match == QueryHit.Similar))
            {
                var code = codes[hit.BlobName];
                var expected = 0f;
                for (var l = 0; l < levels; l++) expected += tables[l * 256 + code[l]];
                Assert.Equal(expected, hit.Score, 4);
                Assert.Equal(ImageId.FromBlobName(hit.BlobName).ToString(), hit.Id);
            }
        }
    }

    [StorageFact]
    public async Task ARecodedCopyOfAnIndexedImageLeadsItsAnswerThroughTheWholePipeline()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await IngestAsync(p, Enumerable.Range(0, 120));
        await p.DrainAllAsync();
        var rows = await p.CodeRowsAsync();
        Assert.All(rows, r => Assert.Equal(Copies.CopyCodec.CodeBytes, r.GetBinary("CopyCode").Length));

        foreach (var (image, variant) in new[] { (5, Imaging.CopyVariant.Jpeg75), (17, Imaging.CopyVariant.Shift1), (33, Imaging.CopyVariant.PalettePng) })
        {
            var file = Imaging.CopyVariants.Make(variant, TinyModel.TestImages.Pixels.AsSpan(image * 784, 784), 28, 28);
            var response = await p.Queries.QueryAsync(new QueryRequest(file, null, null, 10, 8, null));
            Assert.Equal(Images.Name(image), response.Results[0].BlobName);
            Assert.Equal(QueryHit.NearDuplicate, response.Results[0].Match);
            Assert.NotNull(response.Results[0].CopyDistance);
            Assert.True(response.Results.Zip(response.Results.Skip(1)).All(x => x.First.Score >= x.Second.Score), "results are not sorted by score");
        }

        // A query image is decoded with the query limits: a PNG too large to decode for a query is a 400, not a 500 or 100 MB.
        var big = Imaging.ImagePreprocessor.EncodePng(new byte[2400 * 2400], 2400, 2400);
        var refused = await Assert.ThrowsAsync<QueryValidationException>(() => p.Queries.QueryAsync(new QueryRequest(big, null, null, 10, 8, null)));
        Assert.Contains("send a smaller image", refused.Detail);

        // A vector query has no fingerprint: no near-duplicates, no floor.
        var vector = await p.Queries.QueryAsync(new QueryRequest(null, null, new float[(await p.Models.GetAsync())!.FeatureDimension], 5, 32, null));
        Assert.Null(vector.NearDuplicateScoreFloor);
        Assert.All(vector.Results, h => Assert.Equal(QueryHit.Similar, h.Match));
    }

    [StorageFact]
    public async Task ARequestForAVersionOverwrittenSinceIsDoneWithoutReadingTheNewBytes()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await IngestAsync(p, [4]); // request for the first version, still queued
        // Overwritten after intake with a file far over the size limit (its own notification lost): the
        // queued request names the old ETag, so the worker gets a 412 and never downloads the new bytes.
        var huge = new byte[(int)p.Options.Limits.MaxBytes + 1];
        await images.GetBlobClient(Images.Name(4)).UploadAsync(BinaryData.FromBytes(huge), overwrite: true);
        var drained = await p.DrainAllAsync();
        Assert.Equal(0, drained.Indexed);
        Assert.Equal(0, drained.Failed);
        Assert.Empty(await p.CodeRowsAsync());
        Assert.Empty(await p.Failures.ListAsync());
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value);

        // The overwrite's own notification goes through intake, which refuses it by size; nothing is lost.
        Assert.NotEqual(IntakeOutcome.Enqueued, await p.Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(4))));
    }

    [StorageFact]
    public async Task ImageQueriesFindTheirOwnClassFarMoreOftenThanChance()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await IngestAsync(p, Enumerable.Range(0, 200));
        await p.DrainAllAsync();
        double precision = 0;
        var queries = Enumerable.Range(300, 20).ToList();
        foreach (var q in queries)
        {
            var response = await p.Queries.QueryAsync(new QueryRequest(Images.Png(TinyModel.TestImages, q), null, null, 10, 32, null));
            precision += response.Results.Count(h => h.Label == TinyModel.TestImages.ClassNameOf(q)) / 10.0;
        }
        precision /= queries.Count;
        Assert.True(precision > 0.4, $"precision@10 was {precision:F2}; chance is about 0.1");
    }

    [StorageFact]
    public async Task LabelFilterAndQueryByIdWork()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await IngestAsync(p, Enumerable.Range(0, 50));
        await p.DrainAllAsync();
        var label = TinyModel.TestImages.ClassNameOf(7);
        var expected = Enumerable.Range(0, 50).Count(i => TinyModel.TestImages.ClassNameOf(i) == label);

        var byId = await p.Queries.QueryAsync(new QueryRequest(null, Images.Name(7), null, 50, 16, new HashSet<string> { label }));
        Assert.Equal(expected, byId.Results.Count);
        Assert.All(byId.Results, h => Assert.Equal(label, h.Label));
        // An indexed image is its own copy: it leads its answer.
        Assert.Equal(Images.Name(7), byId.Results[0].BlobName);
        Assert.Equal(QueryHit.NearDuplicate, byId.Results[0].Match);

        // The image id works like the blob name.
        var byImageId = await p.Queries.QueryAsync(new QueryRequest(null, ImageId.FromBlobName(Images.Name(7)).ToString(), null, 5, 16, null));
        var byName = await p.Queries.QueryAsync(new QueryRequest(null, Images.Name(7), null, 5, 16, null));
        Assert.Equal(byName.Results, byImageId.Results);
    }

    [StorageFact]
    public async Task DuplicateMessagesLeaveOneCorrectRow()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, TinyModel.TestImages, 3);
        var blob = images.GetBlobClient(Images.Name(3));
        // The same notification three times: twice in one batch, once in a later batch.
        await p.Intake.HandleBlobAsync(blob);
        await p.Intake.HandleBlobAsync(blob);
        var first = await p.DrainAllAsync();
        var rowBefore = Assert.Single(await p.CodeRowsAsync());
        await p.Intake.HandleBlobAsync(blob);
        await p.DrainAllAsync();

        var row = Assert.Single(await p.CodeRowsAsync());
        Assert.Equal(rowBefore.GetBinary("Code"), row.GetBinary("Code"));
        Assert.Equal(Images.Name(3), row.GetString("BlobName"));
        Assert.Equal(2, first.Received);
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value);
        var response = await p.Queries.QueryAsync(new QueryRequest(null, Images.Name(3), null, 10, null, null));
        Assert.Single(response.Results);
    }

    [StorageFact]
    public async Task CorruptAndEmptyImagesAreRecordedAndDoNotBlockTheGoodOnes()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await IngestAsync(p, [0, 1, 2]);
        var good = Images.Png(TinyModel.TestImages, 4);
        await Images.UploadAsync(images, "bad/corrupt.png", [.. good[..40], .. Enumerable.Repeat((byte)0x5A, 300)], "1");
        await Images.UploadAsync(images, "bad/truncated.png", good[..(good.Length / 2)], "1");
        await Images.UploadAsync(images, "bad/text.png", Encoding.UTF8.GetBytes("this is not an image"), null);
        foreach (var name in new[] { "bad/corrupt.png", "bad/truncated.png", "bad/text.png" })
            Assert.Equal(IntakeOutcome.Enqueued, await p.Intake.HandleBlobAsync(images.GetBlobClient(name)));
        await Images.UploadAsync(images, "bad/empty.png", [], null);
        Assert.Equal(IntakeOutcome.Rejected, await p.Intake.HandleBlobAsync(images.GetBlobClient("bad/empty.png")));

        var drained = await p.DrainAllAsync();
        Assert.Equal(3, drained.Indexed);
        Assert.Equal(3, drained.Failed);
        Assert.Equal(3, (await p.CodeRowsAsync()).Count);
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value); // not retried forever

        var failures = (await p.Failures.ListAsync()).ToDictionary(f => f.BlobName);
        Assert.Equal(4, failures.Count);
        Assert.Contains("corrupt", failures["bad/corrupt.png"].Reason);
        Assert.Contains("truncated", failures["bad/truncated.png"].Reason);
        Assert.Contains("not a PNG, JPEG, GIF, WebP or BMP image", failures["bad/text.png"].Reason);
        Assert.Equal(FailureStage.Intake, failures["bad/empty.png"].Stage);
        Assert.Contains("empty", failures["bad/empty.png"].Reason);
    }

    [StorageFact]
    public async Task ClassNamesTravelFromMetadataToAnswersAndFiltersAndABadOneIsRecorded()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        string?[] labels = ["Écharpe", "Écharpe", "Ankle boot", "Ankle boot", "7"];
        for (var i = 0; i < labels.Length; i++)
            await Images.UploadAsync(images, Images.Name(i), Images.Png(TinyModel.TestImages, i), labels[i]);
        // Metadata set by hand, not through ClassLabel.ToMetadata: a comma is not allowed in a class name.
        await images.GetBlobClient(Images.Name(5)).UploadAsync(BinaryData.FromBytes(Images.Png(TinyModel.TestImages, 5)),
            new Azure.Storage.Blobs.Models.BlobUploadOptions { Metadata = new Dictionary<string, string> { ["label"] = "bag,shoe" } });
        for (var i = 0; i <= 5; i++) Assert.Equal(IntakeOutcome.Enqueued, await p.Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(i))));

        var drained = await p.DrainAllAsync();
        Assert.Equal(5, drained.Indexed);
        Assert.Equal(1, drained.Failed);
        var failure = (await p.Failures.ListAsync()).Single();
        Assert.Equal(Images.Name(5), failure.BlobName);
        Assert.Contains("not a class name", failure.Reason);

        var scarves = await p.Queries.QueryAsync(new QueryRequest(null, Images.Name(2), null, 10, 32, new HashSet<string> { "Écharpe" }));
        Assert.Equal([Images.Name(0), Images.Name(1)], scarves.Results.Select(h => h.BlobName).Order(StringComparer.Ordinal));
        Assert.All(scarves.Results, h => Assert.Equal("Écharpe", h.Label));
        var seven = await p.Queries.QueryAsync(new QueryRequest(null, Images.Name(2), null, 10, 32, new HashSet<string> { "7", "Ankle boot" }));
        Assert.Equal(["7", "Ankle boot", "Ankle boot"], seven.Results.Select(h => h.Label).Order(StringComparer.Ordinal));

        // A row written before class names holds an integer label: it reads as its text.
        var model = (await p.Models.GetAsync())!;
        var table = p.Storage.Table(p.Storage.Names.CodesTable);
        var row = (await p.CodeRowsAsync()).Single(r => r.GetString("BlobName") == Images.Name(4));
        row["Label"] = 3;
        await table.UpdateEntityAsync(row, Azure.ETag.All, Azure.Data.Tables.TableUpdateMode.Replace);
        var read = await (await p.ActiveIndexAsync()).Rows.ReadAllAsync().SingleAsync(i => i.BlobName == Images.Name(4));
        Assert.Equal("3", read.Label);
    }

    [StorageFact]
    public async Task AMessageThatIsNotBase64GoesToThePoisonQueueAloneAndTheOthersAreIndexed()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await IngestAsync(p, [0, 1]);
        // Written without Base64 (no client of ours does): receiving it used to fail the whole receive.
        var raw = new Azure.Storage.Queues.QueueClient(Azurite.ConnectionString, p.Storage.Names.EncodeQueue);
        await raw.SendMessageAsync("not base64 {!}");
        await IngestAsync(p, [2]);

        var result = await p.DrainAllAsync();

        Assert.Equal(3, (await p.CodeRowsAsync()).Count);
        Assert.Equal(3, result.Indexed);
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value);
        var poisoned = Assert.Single((await p.Storage.Queue(p.Storage.Names.EncodePoisonQueue).PeekMessagesAsync(32)).Value);
        Assert.Equal("not base64 {!}", poisoned.Body.ToString());
    }

    [StorageFact]
    public async Task AStalePopReceiptIsTakenAsSomeoneElseHoldingTheMessage()
    {
        var storage = await Azurite.FreshAsync();
        var queue = storage.Queue(storage.Names.EncodeQueue);
        await queue.SendMessageAsync("{}");
        var first = (await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(1))).Value.Single();
        await Task.Delay(1500); // the lease runs out
        var second = (await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(30))).Value.Single();
        Assert.Equal(first.MessageId, second.MessageId);

        // What the emulator answers for the first receipt now, and for a message that does not exist.
        var stale = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => queue.DeleteMessageAsync(first.MessageId, first.PopReceipt));
        Assert.True(EncodeQueueDrainer.IsLostLease(stale), $"{stale.Status} {stale.ErrorCode}");
        await queue.DeleteMessageAsync(second.MessageId, second.PopReceipt);
        var gone = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => queue.DeleteMessageAsync(second.MessageId, second.PopReceipt));
        Assert.True(EncodeQueueDrainer.IsLostLease(gone), $"{gone.Status} {gone.ErrorCode}");
        // A request the service refuses for another reason is not mistaken for a lost lease.
        await queue.SendMessageAsync("{}");
        var third = (await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(30))).Value.Single();
        var other = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => queue.UpdateMessageAsync(third.MessageId, third.PopReceipt, "x", TimeSpan.FromDays(8)));
        Assert.False(EncodeQueueDrainer.IsLostLease(other), $"{other.Status} {other.ErrorCode}");
    }

    [StorageFact]
    public async Task TheUploadTriggersPoisonMessagesAreRecordedAndUnreadableOnesNeverThrow()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var poison = new IntakePoison(p.Failures, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<IntakePoison>.Instance);
        await poison.RecordAsync("{\"BlobName\": \"bad/x.png\"}");
        await poison.RecordAsync("not json");
        await poison.RecordAsync("{\"BlobName\": \"bad/\\ud800.png\"}"); // JsonElement.GetString() refuses a lone surrogate

        var failures = p.Failures;
        Assert.Equal(FailureStage.Poison, (await failures.FindAsync("bad/x.png"))?.Stage);
        var rows = await p.Storage.Table(p.Storage.Names.FailuresTable).QueryAsync<Azure.Data.Tables.TableEntity>().ToListAsync();
        Assert.Single(rows);
    }

    [StorageFact]
    public async Task AConnectionFailureAfterRetriesAffectsOnlyItsOwnRequest()
    {
        var faults = new ConnectionFailures("flaky");
        using var p = await Pipeline.CreateAsync(withModel: true, [faults]);
        await IngestAsync(p, [0, 1]);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, "flaky/x.png", Images.Png(TinyModel.TestImages, 2), null);
        Assert.Equal(IntakeOutcome.Enqueued, await p.Intake.HandleBlobAsync(images.GetBlobClient("flaky/x.png")));

        var result = await p.Drainer.DrainOnceAsync();

        Assert.True(faults.Failed > 1, "the download should have been retried before it failed");
        Assert.Equal((3, 2, 1), (result.Received, result.Indexed, result.Retried));
        Assert.Equal(2, (await p.CodeRowsAsync()).Count);
    }

    [StorageFact]
    public async Task ATimeoutAfterRetriesAffectsOnlyItsOwnRequest()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        // Reads of one blob stall past the network timeout on every try, as a hung connection does.
        var stall = new SlowRequests("/hung/", TimeSpan.FromSeconds(20));
        var quick = StorageRetry.Default with { MaxRetries = 1, Delay = TimeSpan.FromMilliseconds(50), NetworkTimeout = TimeSpan.FromMilliseconds(500) };
        using var worker = p.Twin([stall], retry: quick);
        await IngestAsync(p, [0, 1]);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, "hung/x.png", Images.Png(TinyModel.TestImages, 2), null);
        Assert.Equal(IntakeOutcome.Enqueued, await p.Intake.HandleBlobAsync(images.GetBlobClient("hung/x.png")));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await worker.Drainer.DrainOnceAsync();

        Assert.Equal(2, stall.Held); // the first try and its retry, each timed out
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the pass waited {clock.Elapsed} on a stalled read");
        Assert.Equal((3, 2, 1), (result.Received, result.Indexed, result.Retried));
        Assert.Equal(2, (await p.CodeRowsAsync()).Count);
        Assert.Null(await p.Failures.FindAsync("hung/x.png")); // a timeout is retried, not recorded as a failure
    }

    [StorageFact]
    public async Task AReceiveThatFailsAfterTheFirstLeavesThePassWorkingOnWhatItHolds()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var receives = new ConnectionFailures("/" + p.Storage.Names.EncodeQueue + "/messages") { PassFirst = 1 };
        using var worker = p.Twin([receives], retry: StorageRetry.Default with { MaxRetries = 1, Delay = TimeSpan.FromMilliseconds(50) });
        await IngestAsync(p, [0, 1, 2]);

        // The first receive gets all three; the pass asks for more (its batch is not full) and that fails.
        var result = await worker.Drainer.DrainOnceAsync();

        Assert.True(receives.Failed > 0, "the second receive should have failed");
        Assert.Equal((3, 3), (result.Received, result.Indexed));
        Assert.Equal(3, (await p.CodeRowsAsync()).Count);
        Assert.Equal(0, (await p.Storage.Queue(p.Storage.Names.EncodeQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }

    [StorageFact]
    public async Task AWriteWhoseAnswerIsLostIsNotRedone()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        // The delta file's create and its catalog row's insert both commit, and both answers are lost: the SDK
        // tries again and meets what the first try stored.
        var file = new LostAnswers("/" + p.Storage.Names.SegmentsContainer + "/", Azure.Core.RequestMethod.Put);
        var row = new LostAnswers("/" + p.Storage.Names.ManifestsTable, Azure.Core.RequestMethod.Post);
        using var worker = p.Twin([file, row]);
        await IngestAsync(p, [0]);
        await p.DrainAllAsync(); // the version's layout row exists: the worker's only insert is its delta's row
        await IngestAsync(p, [1, 2, 3]);

        var result = await worker.Drainer.DrainOnceAsync();

        Assert.Equal((1, 1), (file.Lost, row.Lost));
        Assert.Equal((3, 3, 0), (result.Received, result.Indexed, result.Retried));
        Assert.Equal(4, (await p.CodeRowsAsync()).Count);
        Assert.Equal(0, (await p.Storage.Queue(p.Storage.Names.EncodeQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount);
        Assert.Equal(4, (await p.Queries.QueryAsync(new QueryRequest(Images.Png(TinyModel.TestImages, 1), null, null, 10, 8, null))).IndexedItems);
    }

    [StorageFact]
    public async Task AFailureRecordThatCannotBeWrittenAffectsOnlyItsOwnRequest()
    {
        var faults = new ConnectionFailures("failures", enabled: false, writes: true);
        using var p = await Pipeline.CreateAsync(withModel: true, [faults]);
        await IngestAsync(p, [0, 1]);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, "bad/corrupt.png", [.. Images.Png(TinyModel.TestImages, 9)[..30], 1, 2, 3], null);
        Assert.Equal(IntakeOutcome.Enqueued, await p.Intake.HandleBlobAsync(images.GetBlobClient("bad/corrupt.png")));
        faults.Enabled = true; // the failures table cannot be written now

        var result = await p.Drainer.DrainOnceAsync();

        Assert.True(faults.Failed > 0);
        Assert.Equal((3, 2, 1), (result.Received, result.Indexed, result.Retried));
        Assert.Equal(2, (await p.CodeRowsAsync()).Count);
    }

    [StorageFact]
    public async Task MalformedAndRepeatedlyFailingMessagesGoToThePoisonQueue()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var queue = p.Storage.Queue(p.Storage.Names.EncodeQueue);
        await queue.SendMessageAsync("{not json");
        // A request that has already been delivered more often than allowed.
        var request = EncodeRequest.For("gone/again.png", null, 10, DateTimeOffset.UtcNow);
        await queue.SendMessageAsync(request.ToJson());
        for (var delivery = 0; delivery < p.Options.MaxDequeueCount; delivery++)
        {
            var m = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(1))).Value;
            Assert.NotEmpty(m);
            await Task.Delay(1100); // until it is visible again
        }
        await p.DrainAllAsync();

        Assert.Empty((await queue.PeekMessagesAsync()).Value);
        var poisoned = (await p.Storage.Queue(p.Storage.Names.EncodePoisonQueue).PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString()).ToList();
        Assert.Equal(2, poisoned.Count);
        Assert.Contains("{not json", poisoned);
        var failure = await p.Failures.FindAsync("gone/again.png");
        Assert.Equal(FailureStage.Poison, failure?.Stage);
    }

    [StorageFact]
    public async Task WithoutAModelMessagesWaitAndQueriesAnswer503()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        await IngestAsync(p, [0]);
        var drained = await p.Drainer.DrainOnceAsync();
        Assert.True(drained.NoModel);
        Assert.Single((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value); // kept, not lost

        var answer = await p.Http.QueryAsync("application/json", new MemoryStream("{\"id\":\"x.png\"}"u8.ToArray()), _ => null, default);
        Assert.Equal(503, answer.Status);
        Assert.Equal("application/problem+json", answer.ContentType);
        using var problem = JsonDocument.Parse(answer.Body);
        Assert.Contains("no model", problem.RootElement.GetProperty("detail").GetString());

        // Once a model is activated, the waiting message is encoded.
        var version = await p.Registry.PublishAsync(TinyModel.Directory);
        Assert.True(await p.Registry.ActivateAsync(version, null));
        Assert.Equal(1, (await p.DrainAllAsync()).Indexed);
    }

    public static TheoryData<string, string, string> BadRequests() => new()
    {
        { "application/json", "{\"id\": ", "Malformed JSON" },
        { "application/json", "{\"id\": \"a\", \"vector\": [1]}", "Malformed query" },
        { "application/json", "{\"vector\": [1, 2, 3]}", "Invalid vector" },
        { "application/json", "{\"id\": \"nobody.png\"}", "Unknown id" },
        { "application/json", "{\"id\": \"a.png\", \"bits\": 12}", "Invalid bits" },
        { "application/json", "{\"id\": \"a.png\", \"k\": 0}", "Invalid k" },
        { "application/json", "{\"id\": \"a.png\", \"colour\": \"red\"}", "Unknown property" },
        { "application/json", "{\"id\": \"a\\ud800.png\"}", "Invalid id" }, // a lone surrogate: JsonElement.GetString() throws
        { "application/json", "{\"id\": \"a.png\", \"\\udc00\": 1}", "Unknown property" },
        { "application/json", "{\"vector\": [" + string.Join(", ", Enumerable.Repeat("3e38", 32)) + "]}", "Invalid vector" }, // finite, but the scores would not be
        { "image/png", "", "Empty request" },
        { "image/png", "definitely not a png", "Invalid image" },
        { "text/plain", "hello", "Unsupported content type" },
    };

    [StorageFact]
    public async Task ALargeButAllowedVectorAnswersWithFiniteScores()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await IngestAsync(p, [0, 1, 2]);
        await p.DrainAllAsync();
        var body = "{\"vector\": [" + string.Join(", ", Enumerable.Range(0, 32).Select(i => i % 2 == 0 ? "1e6" : "-1e6")) + "]}";
        var answer = await p.Http.QueryAsync("application/json", new MemoryStream(Encoding.UTF8.GetBytes(body)), _ => null, default);
        Assert.Equal(200, answer.Status);
        using var json = JsonDocument.Parse(answer.Body);
        var scores = json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("score").GetSingle()).ToList();
        Assert.Equal(3, scores.Count);
        Assert.All(scores, s => Assert.True(float.IsFinite(s)));
    }

    [StorageTheory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequestsAre400WithProblemDetails(string contentType, string body, string title)
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await IngestAsync(p, [0]);
        await p.DrainAllAsync();
        var answer = await p.Http.QueryAsync(contentType, new MemoryStream(Encoding.UTF8.GetBytes(body)), _ => null, default);
        Assert.Equal(400, answer.Status);
        Assert.Equal("application/problem+json", answer.ContentType);
        using var problem = JsonDocument.Parse(answer.Body);
        Assert.Equal(title, problem.RootElement.GetProperty("title").GetString());
        Assert.Equal(400, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.RootElement.GetProperty("detail").GetString()));
    }
}
