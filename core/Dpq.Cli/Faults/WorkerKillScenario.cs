namespace Dpq.Cli.Faults;

/// <summary>
/// The encode worker killed (SIGKILL) in the middle of its work while images still arrive, a new one started at
/// once; several times. What the dead worker had received stays invisible until its visibility timeout runs out.
/// </summary>
public static class WorkerKillScenario
{
    public const string Name = "worker-kill";

    public static async Task<ScenarioResult> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var options = ScenarioContext.WorkerOptions(64, TimeSpan.FromSeconds(1));
        var random = new Random(settings.Seed);
        var workers = new List<WorkerProcess> { await context.StartWorkerAsync("worker1", options, cancellationToken) };
        try
        {
            var images = context.Images(settings.Images);
            var names = images.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            var uploads = 0;
            context.Clock.Start();
            await using var monitor = new IndexMonitor(context.NewCensus, names, null, context.Clock, new ProgressBar(Name, names.Count));
            monitor.Phase = "uploading";
            var uploading = context.Uploader.UploadPacedAsync(images, images.Count / settings.UploadTime.TotalSeconds, persist: false,
                (_, _) => Interlocked.Increment(ref uploads), cancellationToken);
            double faultStart = double.NaN, faultEnd = 0;
            for (var k = 1; k <= settings.Kills; k++)
            {
                // While images still arrive, so the worker is at work: the kills are spread over the uploads.
                var target = names.Count * k / (settings.Kills + 1);
                var victim = workers[^1];
                await WaitAsync(() => Volatile.Read(ref uploads) >= target || uploading.IsCompleted, $"{target} uploads", settings.Timeout, cancellationToken);
                // Mid-batch: a pass has just ended (its log line), and the next one, started at once, has been
                // collecting and working for a random part of its wait: it holds messages.
                var passes = victim.Counted[ScenarioContext.BatchPhrase];
                await WaitAsync(() => victim.Counted[ScenarioContext.BatchPhrase] > passes, $"a pass of {victim.Name}", settings.Timeout, cancellationToken);
                await Task.Delay(random.Next(200, 800), cancellationToken);
                victim.Kill();
                if (double.IsNaN(faultStart)) faultStart = context.Clock.Elapsed.TotalSeconds;
                context.Event($"{victim.Name} (pid {victim.Pid}) killed with SIGKILL in its pass {victim.Counted[ScenarioContext.BatchPhrase] + 1}; {monitor.Latest?.Census.Indexed ?? 0} indexed, {Volatile.Read(ref uploads)} uploaded");
                workers.Add(context.LaunchWorker($"worker{k + 1}", options));
                faultEnd = context.Clock.Elapsed.TotalSeconds;
                context.Event($"worker{k + 1} started");
                monitor.Phase = $"{k} killed";
            }
            await uploading;
            context.Event($"{uploads} uploads done");
            var atFaultEnd = await monitor.TakeNowAsync(cancellationToken);
            return await context.FinishAsync(
                $"the worker process killed with SIGKILL {settings.Kills} times while images arrive, a new one started at once each time",
                monitor, names, null, uploads, faultStart, faultEnd, atFaultEnd,
                () => Task.WhenAll(workers.Select(w => w.StopAsync())),
                () => Sum(workers), context.WorkerSettings(options, "workerN"), cancellationToken);
        }
        finally
        {
            foreach (var w in workers) await w.DisposeAsync();
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"waited {timeout.TotalSeconds:F0} s for {what}");
            await Task.Delay(10, cancellationToken);
        }
    }

    /// <summary>The defence counts of all the scenario's worker processes together.</summary>
    internal static IReadOnlyDictionary<string, int> Sum(IEnumerable<WorkerProcess> workers) =>
        workers.SelectMany(w => w.Counted).GroupBy(c => c.Key).ToDictionary(g => g.Key, g => g.Sum(c => c.Value));
}
