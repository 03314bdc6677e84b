using Dpq.Ingest;
using Dpq.Storage;

namespace Dpq.Worker;

/// <summary>
/// Drains the encode queue for as long as the process lives: one batch per pass, a pause when the
/// queue is empty or no model is active yet, and a bounded back-off after a failure. A message
/// whose work failed is never deleted; its visibility timeout brings it back.
/// </summary>
public sealed class EncodeQueueWorker(EncodeQueueDrainer drainer, StorageClients storage, EncodeWorkerOptions options, Dpq.Diagnostics.WorkerHeartbeat heartbeat,
    ILogger<EncodeQueueWorker> logger)
    : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (await storage.EnsureCreatedAsync(stoppingToken) is { Count: > 0 } refused)
            logger.LogInformation("Not allowed to create {Resources}: the deployment creates them", string.Join(", ", refused));
        logger.LogInformation("Draining {Queue} in batches of up to {BatchSize}", storage.Names.EncodeQueue, options.BatchSize);
        var failures = 0;
        var waitingForModel = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            heartbeat.Beat(); // a pass that fails beats too: only a loop that stops is not alive
            try
            {
                var result = await drainer.DrainOnceAsync(stoppingToken);
                failures = 0;
                if (result.NoModel && !waitingForModel) logger.LogWarning("No active model yet: encode requests wait in the queue");
                waitingForModel = result.NoModel;
                if (result.Received == 0) await Task.Delay(options.IdleDelay, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                failures++;
                var delay = TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 500 * Math.Pow(2, Math.Min(failures, 10))));
                logger.LogError(e, "Drain pass failed ({Failures} in a row); retrying in {Delay}", failures, delay);
                await Task.Delay(delay, stoppingToken);
            }
        }
    }
}
