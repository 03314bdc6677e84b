namespace Dpq.Cli.Faults;

/// <summary>
/// The storage service itself goes away in the middle of an ingest: the bench's Azurite is stopped (SIGTERM, as a
/// restart does) while the worker is busy, and started again on the same data folder after a few seconds. Every
/// client (worker, intake, uploads) meets refused connections meanwhile; the uploader tries each upload again
/// until it is stored and handed to intake.
/// </summary>
public static class AzuriteRestartScenario
{
    public const string Name = "azurite-restart";

    public static async Task<ScenarioResult> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var options = ScenarioContext.WorkerOptions(64, TimeSpan.FromSeconds(1));
        await using var worker = await context.StartWorkerAsync("worker1", options, cancellationToken);
        var images = context.Images(settings.Images);
        var names = images.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var uploads = 0;
        context.Clock.Start();
        await using var monitor = new IndexMonitor(context.NewCensus, names, null, context.Clock, new ProgressBar(Name, names.Count));
        monitor.Phase = "uploading";
        var uploading = context.Uploader.UploadPacedAsync(images, images.Count / settings.UploadTime.TotalSeconds, persist: true,
            (_, _) => Interlocked.Increment(ref uploads), cancellationToken);
        var target = names.Count / 3;
        var reached = await monitor.WaitForAsync(c => c.Indexed >= target, settings.Timeout, cancellationToken)
            ?? throw new TimeoutException($"{target} images were not indexed within {settings.Timeout.TotalSeconds:F0} s");
        var faultStart = context.Clock.Elapsed.TotalSeconds;
        monitor.Phase = "Azurite stopping";
        context.Event($"Azurite sent SIGTERM; {reached.Census.Indexed} indexed, {Volatile.Read(ref uploads)} uploaded");
        var exit = await context.Azurite.StopAsync();
        context.Event($"Azurite exited ({exit.TotalSeconds:F1} s after SIGTERM); down for {settings.Outage.TotalSeconds:F0} s");
        monitor.Phase = "Azurite down";
        await Task.Delay(settings.Outage, cancellationToken);
        await context.Azurite.StartAsync(cancellationToken);
        var faultEnd = context.Clock.Elapsed.TotalSeconds;
        context.Event("Azurite answers again (same data folder)");
        monitor.Phase = "Azurite back";
        await uploading;
        context.Event($"{uploads} uploads done");
        var atFaultEnd = await monitor.TakeNowAsync(cancellationToken);
        return await context.FinishAsync(
            $"Azurite stopped while the worker is busy and started again {settings.Outage.TotalSeconds:F0} s later on the same data",
            monitor, names, null, uploads, faultStart, faultEnd, atFaultEnd, worker.StopAsync,
            () => worker.Counted, context.WorkerSettings(options, "worker1"), cancellationToken);
    }
}
