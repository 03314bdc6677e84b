using Dpq.ModelVersions;
using Dpq.Storage;

namespace Dpq.Trainer;

/// <summary>
/// Runs the retraining job (<see cref="RetrainJob"/>): a job to its end when there is one (or one left unfinished
/// by a worker that stopped), then the next train request. A pause while another worker holds the job or there
/// is no request; a failed run is logged and tried again. With Trainer:ExitWhenIdle (a Container Apps job
/// started by a train request) the process ends once there is nothing left to do.
/// </summary>
public sealed class RetrainWorker(RetrainJob job, StorageClients storage, IConfiguration configuration, IHostApplicationLifetime lifetime,
    ILogger<RetrainWorker> logger) : BackgroundService
{
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var exitWhenIdle = configuration.GetValue<bool>("Trainer:ExitWhenIdle");
        if (await storage.EnsureCreatedAsync(stoppingToken) is { Count: > 0 } refused)
            logger.LogInformation("Not allowed to create {Resources}: the deployment creates them", string.Join(", ", refused));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var run = await job.RunOnceAsync(stoppingToken);
                if (run == RetrainRun.Idle && exitWhenIdle)
                {
                    logger.LogInformation("No retraining left to do; exiting");
                    lifetime.StopApplication();
                    return;
                }
                if (run != RetrainRun.Finished) await Task.Delay(Pause, stoppingToken);
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
