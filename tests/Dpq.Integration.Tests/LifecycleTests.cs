using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelFiles;
using Dpq.ModelVersions;
using Dpq.Query;
using Dpq.Training;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>A model version's life on Azurite: trained as a job, backfilled, switched in while queries run, rolled back, retired.</summary>
public sealed class LifecycleTests
{
    private static LifecycleOptions Fast() => new()
    {
        CheckInterval = TimeSpan.FromMilliseconds(200),
        SwitchGrace = TimeSpan.FromMilliseconds(500),
        LeaseDuration = TimeSpan.FromSeconds(15),
        KeepVersions = 2,
        WorkDirectory = TestScratch.NewDirectory("retrain"),
    };

    /// <summary>
    /// Writes the tiny model again under a new version (with a held-out mAP when given): fast and deterministic, for
    /// the tests of the job around training. <paramref name="hold"/>: a call that waits there until cancelled, as a
    /// worker killed mid-training would stop.
    /// </summary>
    private sealed class CopyTrainer(double? heldOutMap = null, Func<int, bool>? hold = null, Func<int, double?>? heldOutOfCall = null) : IModelTrainer
    {
        private int _calls;
        public int Calls => _calls;

        public async Task<string> TrainAsync(string outputDirectory, int seed, IProgress<string> progress, CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref _calls);
            progress.Report($"copying (call {call})");
            if (hold?.Invoke(call) == true) await Task.Delay(Timeout.Infinite, cancellationToken);
            Directory.CreateDirectory(outputDirectory);
            foreach (var file in Directory.EnumerateFiles(TinyModel.Directory)) File.Copy(file, Path.Combine(outputDirectory, Path.GetFileName(file)));
            var path = Path.Combine(outputDirectory, ModelManifest.FileName);
            var json = JsonNode.Parse(await File.ReadAllTextAsync(path, cancellationToken))!;
            json["version"] = $"m-test-{seed:x}-{call}-{Guid.NewGuid():N}"[..40];
            if ((heldOutOfCall?.Invoke(call) ?? heldOutMap) is { } map) json["metrics"]![ModelManifest.HeldOutMapMetric(32)] = map;
            await File.WriteAllTextAsync(path, json.ToJsonString(), cancellationToken);
            return outputDirectory;
        }
    }

    private static async Task UploadAsync(Pipeline p, IEnumerable<int> indices)
    {
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        foreach (var i in indices)
        {
            await Images.UploadAsync(images, TinyModel.TestImages, i);
            await p.Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(i)));
        }
    }

    private static async Task DeleteAsync(Pipeline p, IEnumerable<int> indices)
    {
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        foreach (var i in indices)
        {
            await images.DeleteBlobAsync(Images.Name(i));
            await p.Intake.HandleDeletedAsync(p.Storage.Names.ImagesContainer, Images.Name(i));
        }
    }

    /// <summary>The worker's encode loop, until <paramref name="stop"/>.</summary>
    private static Task DrainUntilAsync(Pipeline p, CancellationToken stop) => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
            if ((await p.Drainer.DrainOnceAsync()).Received == 0) await Task.Delay(50);
    });

    private static async Task<RetrainJobState> StateAsync(Pipeline p) =>
        (await RetrainJob.ReadStateAsync(p.Storage.Container(p.Storage.Names.ModelsContainer)))!.Value.State;

    private static async Task WaitForStageAsync(Pipeline p, RetrainStage stage)
    {
        for (var i = 0; i < 600; i++)
        {
            if (await RetrainJob.ReadStateAsync(p.Storage.Container(p.Storage.Names.ModelsContainer)) is { } s && s.State.Stage == stage) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"the job did not reach {stage}");
    }

    /// <summary>The names <paramref name="version"/>'s index holds, as a fresh query host would load it.</summary>
    private static async Task<HashSet<string>> IndexedAsync(Pipeline p, string version)
    {
        var model = (await p.Models.GetAsync())!;
        var cache = new IndexCache(p.Store, p.QueryOptions, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<IndexCache>.Instance);
        var snapshot = await cache.GetAsync(version, new Dpq.Formats.CodeFormat(model.Codewords, model.Levels));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var s = 0; s < snapshot.Segments.Length; s++)
            for (var i = 0; i < snapshot.Segments[s].Count; i++)
                if (!snapshot.Hidden.Contains(s, i)) Assert.True(names.Add(snapshot.Segments[s].Ids[i]));
        return names;
    }

    private static HashSet<string> Names(IEnumerable<int> indices) => [.. indices.Select(Images.Name)];

    [StorageFact]
    public async Task ARetrainedVersionIsBackfilledThroughUploadsAndDeletesAndSwitchedInWithNoFailedOrEmptyAnswerThenRolledBack()
    {
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s
            .AddSingleton(Fast())
            .AddSingleton(new RetrainingOptions { Epochs = 1, RefineEpochs = 1, Holdout = 0.2, FeatureCache = TestScratch.NewDirectory("features") })
            .AddSingleton<IModelTrainer, StorageModelTrainer>());
        var first = (await p.Registry.GetActiveAsync())!.Version;
        await UploadAsync(p, Enumerable.Range(0, 300));
        Assert.Equal(300, (await p.DrainAllAsync()).Indexed);

        using var stop = new CancellationTokenSource();
        var worker = DrainUntilAsync(p, stop.Token);
        var failures = new ConcurrentQueue<Exception>();
        var answers = new ConcurrentQueue<(string Version, int Results)>();
        var queries = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var answer = await p.Queries.QueryAsync(new QueryRequest(Images.Png(TinyModel.TestImages, 400 + i % 100), null, null, 10, null, null));
                    answers.Enqueue((answer.ModelVersion, answer.Results.Count));
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            }
        });

        await p.Get<RetrainScheduler>().RequestNowAsync("test");
        var job = p.Get<RetrainJob>().RunOnceAsync();
        await WaitForStageAsync(p, RetrainStage.Backfilling);
        await UploadAsync(p, Enumerable.Range(300, 10)); // reach both versions
        await DeleteAsync(p, Enumerable.Range(0, 5)); // leave both versions
        Assert.Equal(RetrainRun.Finished, await job);
        var state = await StateAsync(p);
        var second = state.Version!;
        Assert.Equal($"activated {second}", state.Outcome);
        await Task.Delay(500); // a few answers from the new version
        await stop.CancelAsync();
        await worker;
        await queries;

        Assert.Empty(failures);
        Assert.All(answers, a => Assert.Equal(10, a.Results));
        Assert.Contains(answers, a => a.Version == first);
        Assert.Contains(answers, a => a.Version == second);
        Assert.Equal(second, answers.Last().Version); // once switched, it stays
        Assert.Equal(second, (await p.Registry.GetActiveAsync())!.Version);
        var expected = Names(Enumerable.Range(5, 305));
        Assert.Equal(expected.Order(), (await IndexedAsync(p, second)).Order());
        Assert.Equal(expected.Order(), (await IndexedAsync(p, first)).Order());
        var record = (await p.Get<VersionRecords>().GetAsync(second))!;
        Assert.Equal(VersionState.Ready, record.State);
        Assert.Equal(first, record.BasedOn);
        Assert.NotEmpty(record.HeldOutMap); // measured on the held-out split
        Assert.True(record.Covered >= record.Images);

        // Three images while the new version is active reach only it; a rollback brings the first back, and
        // the reconciler indexes for it what it missed.
        await UploadAsync(p, Enumerable.Range(310, 3));
        await p.DrainAllAsync();
        Assert.Equal(first, await p.Get<VersionSwitch>().RollbackAsync(null));
        Assert.Equal(first, (await p.Queries.QueryAsync(new QueryRequest(Images.Png(TinyModel.TestImages, 7), null, null, 5, null, null))).ModelVersion);
        Assert.Equal(3, (await p.Reconciler(new AheadClock(TimeSpan.FromMinutes(1))).RunAsync()).Missing);
        await p.DrainAllAsync();
        Assert.Equal(Names(Enumerable.Range(5, 308)).Order(), (await IndexedAsync(p, first)).Order());
        var listed = await p.Get<VersionOverview>().ListAsync();
        Assert.Equal("active", listed.Single(v => v.Version == first).Status);
        Assert.Equal("ready", listed.Single(v => v.Version == second).Status);
    }

    [StorageFact]
    public async Task AJobStoppedDuringTrainingOrBackfillGoesOnInTheNextWorkerAndOnlyOneWorkerHoldsIt()
    {
        var options = Fast();
        var killedTrainer = new CopyTrainer(hold: call => call == 1);
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(options).AddSingleton<IModelTrainer>(killedTrainer));
        await UploadAsync(p, Enumerable.Range(0, 20));
        await p.DrainAllAsync();
        await p.Get<RetrainScheduler>().RequestNowAsync("test");

        // Killed mid-training.
        using (var kill = new CancellationTokenSource())
        {
            var job = p.Get<RetrainJob>().RunOnceAsync(kill.Token);
            while (killedTrainer.Calls == 0) await Task.Delay(20);
            await kill.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => job);
        }
        Assert.Equal((RetrainStage.Training, 1), ((await StateAsync(p)).Stage, (await StateAsync(p)).Attempts));

        // While a dead worker's lease has not expired, the next one waits; then it trains again and stops again, in the backfill.
        var trainer = new CopyTrainer();
        using var next = p.Twin(s => s.AddSingleton(options).AddSingleton<IModelTrainer>(trainer));
        var lease = Azure.Storage.Blobs.Specialized.SpecializedBlobExtensions.GetBlobLeaseClient(p.Storage.Container(p.Storage.Names.ModelsContainer).GetBlobClient(RetrainJob.LockBlob));
        await lease.AcquireAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(RetrainRun.Busy, await next.Get<RetrainJob>().RunOnceAsync());
        await lease.BreakAsync(TimeSpan.Zero);
        using (var kill = new CancellationTokenSource())
        {
            var job = next.Get<RetrainJob>().RunOnceAsync(kill.Token); // no worker drains: the backfill cannot finish
            await WaitForStageAsync(p, RetrainStage.Backfilling);
            await kill.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => job);
        }
        var stopped = await StateAsync(p);
        Assert.Equal((RetrainStage.Backfilling, 2), (stopped.Stage, stopped.Attempts));
        Assert.Equal(1, trainer.Calls);

        // A third worker goes on from the backfill, without training again.
        using var third = p.Twin(s => s.AddSingleton(options).AddSingleton<IModelTrainer>(trainer));
        using var stop = new CancellationTokenSource();
        var worker = DrainUntilAsync(third, stop.Token);
        Assert.Equal(RetrainRun.Finished, await third.Get<RetrainJob>().RunOnceAsync());
        await stop.CancelAsync();
        await worker;
        Assert.Equal(1, trainer.Calls);
        var done = await StateAsync(p);
        Assert.Equal($"activated {stopped.Version}", done.Outcome);
        Assert.Equal(stopped.Version, (await p.Registry.GetActiveAsync())!.Version);
        Assert.Equal(20, (await IndexedAsync(p, stopped.Version!)).Count);
        Assert.Equal(RetrainRun.Idle, await third.Get<RetrainJob>().RunOnceAsync()); // nothing left to do
    }

    [StorageFact]
    public async Task AVersionWorseThanTheActiveOneIsRejectedWithItsFiguresAndTheActiveOneStays()
    {
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(Fast()).AddSingleton<IModelTrainer>(new CopyTrainer(heldOutMap: 0.5)));
        var first = (await p.Registry.GetActiveAsync())!.Version;
        await p.Get<VersionRecords>().UpdateAsync(first, r => r with { HeldOutMap = new Dictionary<int, double> { [32] = 0.9 } });
        await UploadAsync(p, Enumerable.Range(0, 10));
        await p.DrainAllAsync();
        await p.Get<RetrainScheduler>().RequestNowAsync("test");
        using var stop = new CancellationTokenSource();
        var worker = DrainUntilAsync(p, stop.Token);
        Assert.Equal(RetrainRun.Finished, await p.Get<RetrainJob>().RunOnceAsync());
        await stop.CancelAsync();
        await worker;

        var state = await StateAsync(p);
        Assert.StartsWith($"rejected {state.Version}: held-out mAP at 32 bits is 0.5000, 0.4000 below {first}'s 0.9000", state.Outcome);
        Assert.Equal(first, (await p.Registry.GetActiveAsync())!.Version);
        var record = (await p.Get<VersionRecords>().GetAsync(state.Version!))!;
        Assert.Equal(VersionState.Rejected, record.State);
        Assert.StartsWith("rejected: held-out mAP", (await p.Get<VersionOverview>().ListAsync()).Single(v => v.Version == state.Version).Status);
        await Assert.ThrowsAsync<InvalidOperationException>(() => p.Get<VersionSwitch>().RollbackAsync(state.Version)); // never activated
    }

    [StorageFact]
    public async Task VersionsBeyondTheCountAreRetiredButNeverTheActiveOneOrTheOneBeforeIt()
    {
        // Three jobs: the first version activated, the second rejected (worse), the third activated.
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(Fast())
            .AddSingleton<IModelTrainer>(new CopyTrainer(heldOutOfCall: call => call switch { 1 => 0.9, 2 => 0.5, _ => 0.95 })));
        var first = (await p.Registry.GetActiveAsync())!.Version;
        await UploadAsync(p, Enumerable.Range(0, 6));
        await p.DrainAllAsync();
        using var stop = new CancellationTokenSource();
        var worker = DrainUntilAsync(p, stop.Token);
        var made = new List<string>();
        for (var round = 0; round < 3; round++)
        {
            await p.Get<RetrainScheduler>().RequestNowAsync("test");
            Assert.Equal(RetrainRun.Finished, await p.Get<RetrainJob>().RunOnceAsync());
            made.Add((await StateAsync(p)).Version!);
        }
        await stop.CancelAsync();
        await worker;

        // Two kept: the active one (the third) and the one active before it (the first made), though the rejected
        // second is newer; retired: the second and the one published at the start.
        var records = (await p.Get<VersionRecords>().ListAsync()).ToDictionary(r => r.Version);
        Assert.Equal(made[2], (await p.Registry.GetActiveAsync())!.Version);
        Assert.Equal(VersionState.Ready, records[made[2]].State);
        Assert.Equal(VersionState.Ready, records[made[0]].State);
        foreach (var retired in new[] { first, made[1] })
        {
            Assert.Equal(VersionState.Retired, records[retired].State);
            Assert.Null(await p.Store.OpenAsync(retired));
            Assert.Null(await p.Registry.ReadManifestAsync(retired));
            Assert.False(await p.Storage.Container(p.Storage.Names.SegmentsContainer).GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, retired + "/", default).AnyAsync());
            Assert.DoesNotContain(await p.CodeRowsAsync(), r => r.PartitionKey.StartsWith(retired + "_s", StringComparison.Ordinal));
        }
        Assert.Equal(6, (await IndexedAsync(p, made[0])).Count);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => p.Get<VersionSwitch>().RollbackAsync(first));
        Assert.Contains("retired", e.Message);
        Assert.Equal(made[0], await p.Get<VersionSwitch>().RollbackAsync(null));
    }

    [StorageFact]
    public async Task AnUploadWhileAVersionIsBeingBuiltIsWrittenForItAndTheActiveOneInTheSameBatch()
    {
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(Fast()));
        var first = (await p.Registry.GetActiveAsync())!.Version;
        var building = await p.Registry.PublishAsync(await new CopyTrainer().TrainAsync(TestScratch.NewDirectory("copy"), 7, new Progress<string>(), default));
        Assert.True(await p.Get<VersionRecords>().CreateAsync(new VersionRecord(building, VersionState.Building, DateTimeOffset.UtcNow)));

        await UploadAsync(p, Enumerable.Range(0, 3));
        var drained = await p.DrainAllAsync(); // one pass: no backfill ran
        Assert.Equal(3, drained.Indexed);
        Assert.Equal(Names(Enumerable.Range(0, 3)).Order(), (await IndexedAsync(p, first)).Order());
        Assert.Equal(Names(Enumerable.Range(0, 3)).Order(), (await IndexedAsync(p, building)).Order());

        // A request for the building version alone (the backfill's) reaches only it.
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, TinyModel.TestImages, 9);
        var etag = (await images.GetBlobClient(Images.Name(9)).GetPropertiesAsync()).Value.ETag.ToString();
        await p.Storage.Queue(p.Storage.Names.EncodeQueue).SendMessageAsync(EncodeRequest.ForVersion(Images.Name(9), etag, Images.Png(TinyModel.TestImages, 9).Length, DateTimeOffset.UtcNow, building).ToJson());
        await p.DrainAllAsync();
        Assert.Contains(Images.Name(9), await IndexedAsync(p, building));
        Assert.DoesNotContain(Images.Name(9), await IndexedAsync(p, first));
    }

    [StorageFact]
    public async Task AJobStoppedBetweenPublishingAndRecordingItsVersionDoesNotTrainAgain()
    {
        var trainer = new CopyTrainer();
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(Fast()).AddSingleton<IModelTrainer>(trainer));
        var published = await p.Registry.PublishAsync(await new CopyTrainer().TrainAsync(TestScratch.NewDirectory("copy"), 3, new Progress<string>(), default));
        // As the stopped worker left it: published, still in the training stage, no record yet.
        var state = new RetrainJobState("retrain-test-published", RetrainStage.Training, DateTimeOffset.UtcNow) { Version = published, Attempts = 1 };
        await p.Storage.Container(p.Storage.Names.ModelsContainer).GetBlobClient(RetrainJob.StateBlob)
            .UploadAsync(BinaryData.FromBytes(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(state, LifecycleJson.Default.RetrainJobState)));

        Assert.Equal(RetrainRun.Finished, await p.Get<RetrainJob>().RunOnceAsync()); // nothing to backfill: no images yet
        Assert.Equal(0, trainer.Calls);
        Assert.Equal($"activated {published}", (await StateAsync(p)).Outcome);
        Assert.Equal(VersionState.Ready, (await p.Get<VersionRecords>().GetAsync(published))!.State);
    }

    [StorageFact]
    public async Task AFinishedJobsOutcomeStaysReadableAfterTheNextJobAndItsRequestSentAgainIsDropped()
    {
        var trainer = new CopyTrainer();
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(Fast()).AddSingleton<IModelTrainer>(trainer));
        var scheduler = p.Get<RetrainScheduler>();
        var first = await scheduler.RequestNowAsync("test");
        Assert.Equal(RetrainRun.Finished, await p.Get<RetrainJob>().RunOnceAsync());
        var second = await scheduler.RequestNowAsync("test");
        Assert.Equal(RetrainRun.Finished, await p.Get<RetrainJob>().RunOnceAsync());
        var models = p.Storage.Container(p.Storage.Names.ModelsContainer);
        var firstState = (await RetrainJob.ReadStateAsync(models, first))!;
        Assert.Equal((first, RetrainStage.Done), (firstState.RequestId, firstState.Stage));
        Assert.StartsWith("activated ", firstState.Outcome);
        Assert.Equal(second, (await RetrainJob.ReadStateAsync(models, second))!.RequestId);

        // The first request delivered again (its message shown again after its worker died, say): not run twice.
        await p.Storage.Queue(p.Storage.Names.TrainQueue).SendMessageAsync(System.Text.Json.JsonSerializer.Serialize(new { requestId = first }));
        Assert.Equal(RetrainRun.Idle, await p.Get<RetrainJob>().RunOnceAsync());
        Assert.Equal(2, trainer.Calls);
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.TrainQueue).PeekMessagesAsync()).Value);
    }
}
