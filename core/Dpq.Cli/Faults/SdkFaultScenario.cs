using Dpq.Ingest;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Cli.Faults;

/// <summary>
/// Storage faults on every request of an in-process encode worker (<see cref="FaultInjectionPolicy"/>: resets before
/// and after the answer, 503s, delays) while the images are uploaded and for a while after; then the faults stop and
/// the worker has to finish. Uploads and intake go through the bench's own clients, without faults.
/// </summary>
public static class SdkFaultScenario
{
    public const string Name = "sdk-faults";

    public static async Task<ScenarioResult> RunAsync(ScenarioContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        var policy = new FaultInjectionPolicy(settings.Rates, settings.Seed);
        var options = ScenarioContext.WorkerOptions(64, TimeSpan.FromSeconds(1));
        using var log = new BenchLog(context.LogPath("worker"), Defences.Phrases.Values);
        await using var workerServices = BenchServices.Create(context.Azurite.ConnectionString, context.Names, context.ModelCache("worker"), options, [policy], log);
        var worker = new InProcessWorker(workerServices.GetRequiredService<EncodeQueueDrainer>(), options.IdleDelay, log);
        using var stop = new CancellationTokenSource();
        var running = worker.RunAsync(stop.Token);
        // Warm first, faults after: the model's first download is not what this measures.
        while (!worker.Ready) await Task.Delay(50, cancellationToken);

        var images = context.Images(settings.Images);
        var names = images.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var uploads = 0;
        context.Clock.Start();
        await using var monitor = new IndexMonitor(context.NewCensus, names, null, context.Clock, new ProgressBar(Name, names.Count));
        policy.Enabled = true;
        context.Event($"faults on: {settings.Rates.Drop:P0} of tries reset, {settings.Rates.ServerError:P0} answered 503, {settings.Rates.Delay:P0} delayed up to {settings.Rates.MaxDelay.TotalMilliseconds:F0} ms");
        monitor.Phase = "uploading, faults on";
        await context.Uploader.UploadPacedAsync(images, images.Count / settings.UploadTime.TotalSeconds, persist: false,
            (_, _) => Interlocked.Increment(ref uploads), cancellationToken);
        context.Event($"{uploads} uploads done");
        monitor.Phase = "faults on";
        var left = settings.FaultTime - context.Clock.Elapsed;
        if (left > TimeSpan.Zero) await Task.Delay(left, cancellationToken);
        policy.Enabled = false;
        var faultEnd = context.Clock.Elapsed.TotalSeconds;
        context.Event("faults off");
        var atFaultEnd = await monitor.TakeNowAsync(cancellationToken);

        return await context.FinishAsync(
            "an in-process worker whose every storage request (each try) may be reset before it is sent or after it was answered, answered 503, or delayed",
            monitor, names, null, uploads, 0, faultEnd, atFaultEnd,
            async () =>
            {
                await stop.CancelAsync();
                await running;
            },
            () => log.Counted, context.WorkerSettings(options, "worker"), cancellationToken, policy.Counts, () => worker.Totals);
    }
}
