using Dpq.Ingest;

namespace Dpq.Cli.Faults;

/// <summary>
/// Two worker processes drain the same queue while each of a set of names is overwritten several times with
/// different images, a fraction of a second apart, so that one worker is often still storing the code of a
/// content that another upload has replaced. At the end each name's row must name the content its blob holds
/// (SourceETag = the blob's ETag), and the visible item must carry that content's code, not an older one's.
/// </summary>
public static class OverwriteRaceScenario
{
    public const string Name = "overwrite-race";

    public static async Task<ScenarioResult> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var rounds = settings.Overwrites;
        var count = Math.Max(1, settings.Images / rounds);
        // Small passes that wait little: the two workers' passes overlap more, and each holds a name for a shorter time.
        var options = ScenarioContext.WorkerOptions(16, TimeSpan.FromMilliseconds(200));
        var random = new Random(settings.Seed);

        // Name j's contents are test images j*rounds .. j*rounds+rounds-1 of a shuffled order; their codes are
        // computed here, in one batch as the worker does, to recognise a stale code.
        var order = Enumerable.Range(0, context.Test.Count).ToArray();
        random.Shuffle(order);
        var contents = Enumerable.Range(0, count).Select(j => Enumerable.Range(0, rounds)
            .Select(r => context.Image($"race/name-{j:000}.png", order[j * rounds + r])).ToArray()).ToArray();
        var all = contents.SelectMany(c => c).ToArray();
        var encoded = BatchEncoder.Encode([.. all.Select(i => (ReadOnlyMemory<byte>)i.Bytes)], context.Model);
        if (encoded.Good.Length != all.Length) throw new InvalidOperationException("a test image was refused by the model's decoder");
        var codeOf = new Dictionary<BenchImage, byte[]>(ReferenceEqualityComparer.Instance);
        for (var j = 0; j < all.Length; j++) codeOf[all[encoded.Good[j]]] = encoded.Code(j).ToArray();
        var codes = new ContentCodes();
        var names = contents.Select(c => c[0].Name).ToHashSet(StringComparer.Ordinal);

        var workers = new List<WorkerProcess>();
        try
        {
            workers.Add(await context.StartWorkerAsync("worker1", options, cancellationToken));
            workers.Add(await context.StartWorkerAsync("worker2", options, cancellationToken));
            var uploads = 0;
            context.Clock.Start();
            await using var monitor = new IndexMonitor(context.NewCensus, names, codes, context.Clock, new ProgressBar(Name, names.Count));
            monitor.Phase = "overwriting";
            context.Event($"{names.Count} names, each written {rounds} times; two workers draining");
            await Parallel.ForEachAsync(contents, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (versions, ct) =>
            {
                var pause = new Random(HashCode.Combine(settings.Seed, versions[0].Name));
                foreach (var image in versions)
                {
                    var etag = await context.Uploader.UploadAsync(image, persist: false, ct);
                    codes.Add(image.Name, etag, codeOf[image]);
                    Interlocked.Increment(ref uploads);
                    await Task.Delay(pause.Next(0, 250), ct);
                }
            });
            var faultEnd = context.Clock.Elapsed.TotalSeconds;
            context.Event($"{uploads} writes done");
            var atFaultEnd = await monitor.TakeNowAsync(cancellationToken);
            return await context.FinishAsync(
                $"two worker processes draining while {names.Count} names are each written {rounds} times with different images, 0-250 ms apart",
                monitor, names, codes, uploads, 0, faultEnd, atFaultEnd,
                () => Task.WhenAll(workers.Select(w => w.StopAsync())),
                () => WorkerKillScenario.Sum(workers), context.WorkerSettings(options, "workerN"), cancellationToken);
        }
        finally
        {
            foreach (var w in workers) await w.DisposeAsync();
        }
    }
}
