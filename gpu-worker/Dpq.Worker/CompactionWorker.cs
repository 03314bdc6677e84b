using Dpq.Indexing;
using Dpq.Storage;

namespace Dpq.Worker;

/// <summary>Runs <see cref="IndexMaintenance"/> every <see cref="CompactionOptions.Interval"/> for as long as the process lives; a failed pass is logged and the next one runs.</summary>
public sealed class CompactionWorker(IndexMaintenance maintenance, StorageClients storage, CompactionOptions options, ILogger<CompactionWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (await storage.EnsureCreatedAsync(stoppingToken) is { Count: > 0 } refused)
            logger.LogInformation("Not allowed to create {Resources}: the deployment creates them", string.Join(", ", refused));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await maintenance.RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Index maintenance pass failed; the next one runs in {Interval}", options.Interval);
            }
            await Task.Delay(options.Interval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
