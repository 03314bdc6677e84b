using Dpq.Indexing;
using Dpq.Ingest;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>What one bad message, one bad image or a long storage outage does to the rest: nothing lost, nothing poisoned that may work.</summary>
public sealed class PoisonAndRetryTests
{
    /// <summary>Short timeouts and delays, so that redeliveries and retries happen within a test.</summary>
    private static EncodeWorkerOptions Quick(Pipeline p, int maxTransientAttempts = 30) => p.Options with
    {
        VisibilityTimeout = TimeSpan.FromSeconds(1),
        RetryDelay = TimeSpan.FromMilliseconds(100),
        MaxRetryDelay = TimeSpan.FromMilliseconds(400),
        MaxTransientAttempts = maxTransientAttempts,
    };

    private static async Task<IReadOnlyList<string>> PoisonBodiesAsync(Pipeline p) =>
        [.. (await p.Storage.Queue(p.Storage.Names.EncodePoisonQueue).PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString())];

    [StorageFact]
    public async Task ADecoderFaultAndABadMessageGoToThePoisonQueueAloneAndTheRestIsIndexedInTheSamePass()
    {
        var crashing = Images.Png(TinyModel.TestImages, 2);
        var decoder = new FaultyDecoder(() => new InvalidOperationException("decoder bug (injected)"), crashing);
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton<Dpq.Imaging.IImageDecoder>(decoder));
        await p.IngestAsync([0, 1, 2, 3]);
        await p.Storage.Queue(p.Storage.Names.EncodeQueue).SendMessageAsync("{not json");

        var pass = await p.Drainer.DrainOnceAsync();

        Assert.Equal((5, 3, 2), (pass.Received, pass.Indexed, pass.Failed));
        Assert.Equal(3, (await p.CodeRowsAsync()).Count);
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value);
        var poisoned = await PoisonBodiesAsync(p);
        Assert.Equal(2, poisoned.Count);
        Assert.Contains("{not json", poisoned);
        Assert.Equal([Images.Name(2)], EncodeMessage.Parse(poisoned.Single(b => b != "{not json")).Select(r => r.BlobName));
        var failure = await p.Failures.FindAsync(Images.Name(2));
        Assert.Equal(FailureStage.Poison, failure?.Stage);
        Assert.Contains("InvalidOperationException", failure!.Reason);

        // The reconciler leaves the poisoned image alone until its retry is due, then tries it again.
        var clock = new AheadClock(TimeSpan.FromMinutes(1));
        var reconciler = p.Reconciler(clock);
        Assert.Equal(0, (await reconciler.RunAsync()).Missing);
        decoder.Enabled = false; // a worker with the decoder fixed
        clock.Ahead = FailureRecord.RetryAfter + TimeSpan.FromMinutes(1);
        Assert.Equal(1, (await reconciler.RunAsync()).Missing);
        Assert.Equal(1, (await p.DrainAllAsync()).Indexed);
        Assert.Equal(4, (await p.CodeRowsAsync()).Count);
    }

    [StorageFact]
    public async Task ARequestNamingWhatIntakeWouldRefuseGoesToThePoisonQueueAloneAtOnce()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await p.IngestAsync([0]);
        // Sent straight to the queue: a name that climbs out of its container.
        await p.Storage.Queue(p.Storage.Names.EncodeQueue).SendMessageAsync(EncodeRequest.For(ImageLocation.ForImport("a/../../b.png"), null, 0, DateTimeOffset.UtcNow).ToJson());

        var pass = await p.Drainer.DrainOnceAsync();

        Assert.Equal((2, 1, 1, 0), (pass.Received, pass.Indexed, pass.Failed, pass.Retried));
        Assert.Single(await PoisonBodiesAsync(p));
        Assert.Contains("'..' segment", (await p.Failures.FindAsync(ImageLocation.ForImport("a/../../b.png")))?.Reason);
        Assert.Equal(0, (await p.Storage.Queue(p.Storage.Names.EncodeQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }

    [StorageFact]
    public async Task AnAllocationFailureInTheDecoderRetriesOnlyItsOwnImage()
    {
        var big = Images.Png(TinyModel.TestImages, 1);
        var decoder = new FaultyDecoder(() => new OutOfMemoryException("no memory (injected)"), big);
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton<Dpq.Imaging.IImageDecoder>(decoder));
        using var worker = p.Twin(s => s.AddSingleton(Quick(p)).AddSingleton<Dpq.Imaging.IImageDecoder>(decoder));
        await p.IngestAsync([0, 1, 2]);

        var pass = await worker.Drainer.DrainOnceAsync();

        Assert.Equal((3, 2, 0, 1), (pass.Received, pass.Indexed, pass.Failed, pass.Retried));
        Assert.Null(await p.Failures.FindAsync(Images.Name(1)));
        decoder.Enabled = false; // memory is back
        await p.DrainUntilAsync(async () => (await p.CodeRowsAsync()).Count == 3, TimeSpan.FromSeconds(30), worker.Drainer);
        Assert.Empty(await PoisonBodiesAsync(p));
    }

    [StorageFact]
    public async Task AStorageOutageLongerThanTheRetryBudgetEndsWithEveryImageIndexed()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var outage = new ServerErrors("/" + p.Storage.Names.ImagesContainer + "/", 500);
        using var worker = p.Twin([outage], s => s.AddSingleton(Quick(p)));
        await p.IngestAsync([0, 1, 2, 3]);

        // Blob reads answer 500 for more deliveries than a message may have before it is poisoned.
        var passes = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (passes < p.Options.MaxDequeueCount + 2 && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if ((await worker.Drainer.DrainOnceAsync()).Received > 0) passes++;
            else await Task.Delay(100);
        }
        Assert.True(outage.Answered >= 4 * passes, $"{outage.Answered} faulted reads in {passes} passes");
        Assert.Empty(await p.CodeRowsAsync());
        outage.Enabled = false; // storage heals

        await p.DrainUntilAsync(async () => (await p.CodeRowsAsync()).Count == 4, TimeSpan.FromSeconds(30), worker.Drainer);
        Assert.Empty(await PoisonBodiesAsync(p));
        Assert.Empty(await p.Failures.ListAsync());
    }

    [StorageFact]
    public async Task ARequestThatOutlastsItsTransientAttemptsIsPoisonedAndTheReconcilerTriesItAgainLater()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var outage = new ServerErrors("/" + p.Storage.Names.ImagesContainer + "/", 503);
        using var worker = p.Twin([outage], s => s.AddSingleton(Quick(p, maxTransientAttempts: 2)));
        await p.IngestAsync([0]);

        await p.DrainUntilAsync(async () => await p.Failures.FindAsync(Images.Name(0)) is not null, TimeSpan.FromSeconds(60), worker.Drainer);
        var failure = await p.Failures.FindAsync(Images.Name(0));
        Assert.Equal(FailureStage.Poison, failure?.Stage);
        Assert.Contains("storage kept failing", failure!.Reason);
        outage.Enabled = false;

        var clock = new AheadClock(TimeSpan.FromMinutes(1));
        Assert.Equal(0, (await p.Reconciler(clock).RunAsync()).Missing); // not due yet
        clock.Ahead = FailureRecord.RetryAfter + TimeSpan.FromMinutes(1);
        Assert.Equal(1, (await p.Reconciler(clock).RunAsync()).Missing);
        await p.DrainUntilAsync(async () => (await p.CodeRowsAsync()).Count == 1, TimeSpan.FromSeconds(30), worker.Drainer);
    }

    [StorageFact]
    public async Task APoisonRecordCountsItsAttemptsAndEachOneWaitsLonger()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var at = DateTimeOffset.UtcNow;
        await p.Failures.RecordAsync(new FailureRecord("x/a.png", FailureStage.Poison, "first", at, "\"e1\""));
        await p.Failures.RecordAsync(new FailureRecord("x/a.png", FailureStage.Poison, "second", at, "\"e1\""));
        var record = await p.Failures.FindAsync("x/a.png");

        Assert.Equal(2, record?.Attempts);
        Assert.Equal(at + 2 * FailureRecord.RetryAfter, record!.RetryAt);
        Assert.True(record.Holds("e1", at, at + FailureRecord.RetryAfter)); // bare or quoted, the same content
        Assert.False(record.Holds("\"e1\"", at, at + 2 * FailureRecord.RetryAfter));
        Assert.False(record.Holds("\"e2\"", at, at)); // the blob was written again
        var refusal = record with { Stage = FailureStage.Decode };
        Assert.Null(refusal.RetryAt);
        Assert.True(refusal.Holds("\"e1\"", at, at + FailureRecord.MaxRetryAfter * 10));
    }
}
