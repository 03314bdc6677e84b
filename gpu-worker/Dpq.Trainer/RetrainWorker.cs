using Dpq.ModelVersions;
using Dpq.Storage;

namespace Dpq.Trainer;

/// <summary>
/// Runs the retraining job (<see cref="RetrainJob"/>) for as long as the process lives: a job to its end
/// when there is one (or one left unfinished by a worker that stopped), then the next train request. A pause
/// while another worker holds the job or there is no request; a failed run is logged and tried again.
/// </summary>
public sealed class RetrainWorker(RetrainJob job, StorageClients storage, ILogger<RetrainWorker> logger) : BackgroundService
{
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await storage.EnsureCreatedAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await job.RunOnceAsync(stoppingToken) != RetrainRun.Finished) await Task.Delay(Pause, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "The retraining job failed; it goes on from its last stored stage in {Pause}", Pause);
                await Task.Delay(Pause, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
