using Dpq.Ingest;
using Dpq.Storage;

namespace Dpq.Worker;

/// <summary>Relays BlobDeleted events to removal requests (<see cref="BlobEventRelay"/>) for as long as the process lives; a pause when none came.</summary>
public sealed class BlobEventWorker(BlobEventRelay relay, StorageClients storage, EncodeWorkerOptions options, ILogger<BlobEventWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (await storage.EnsureCreatedAsync(stoppingToken) is { Count: > 0 } refused)
            logger.LogInformation("Not allowed to create {Resources}: the deployment creates them", string.Join(", ", refused));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await relay.RunOnceAsync(stoppingToken) == 0) await Task.Delay(options.IdleDelay, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Relaying blob events failed; retrying in {Delay}", TimeSpan.FromSeconds(5));
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
