using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>On the schedule in DPQ_RETRAIN_SCHEDULE, ask the worker to train a new model version.</summary>
public sealed class RetrainTimerTrigger(RetrainScheduler scheduler)
{
    [Function(nameof(RetrainTimerTrigger))]
    public Task Run([TimerTrigger("%DPQ_RETRAIN_SCHEDULE%")] TimerInfo timer, CancellationToken cancellationToken) =>
        scheduler.RequestAsync(timer.ScheduleStatus?.Next ?? DateTime.UtcNow, cancellationToken);
}
