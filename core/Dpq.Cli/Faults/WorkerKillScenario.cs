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
                var target = names.Count * k / (settings.Kills + 1);
                var victim = workers[^1];
                // The worker at work (it has finished a pass) and the index a share further on.
                var reached = await monitor.WaitForAsync(c => c.Indexed >= target && victim.Counted[ScenarioContext.BatchPhrase] > 0, settings.Timeout, cancellationToken)
                    ?? throw new TimeoutException($"{target} images were not indexed within {settings.Timeout.TotalSeconds:F0} s");
                // Somewhere inside a pass: passes follow each other while images arrive.
                await Task.Delay(random.Next(0, 400), cancellationToken);
                victim.Kill();
                if (double.IsNaN(faultStart)) faultStart = context.Clock.Elapsed.TotalSeconds;
                context.Event($"{victim.Name} (pid {victim.Pid}) killed with SIGKILL; {reached.Census.Indexed} indexed, {Volatile.Read(ref uploads)} uploaded");
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

    /// <summary>The defence counts of all the scenario's worker processes together.</summary>
    internal static IReadOnlyDictionary<string, int> Sum(IEnumerable<WorkerProcess> workers) =>
        workers.SelectMany(w => w.Counted).GroupBy(c => c.Key).ToDictionary(g => g.Key, g => g.Sum(c => c.Value));
}
