using Dpq.Ingest;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>On the schedule in DPQ_RECONCILE_SCHEDULE, re-submit uploads that no trigger delivered.</summary>
public sealed class ReconcileTimerTrigger(IndexReconciler reconciler)
{
    [Function(nameof(ReconcileTimerTrigger))]
    public Task Run([TimerTrigger("%DPQ_RECONCILE_SCHEDULE%")] TimerInfo timer, CancellationToken cancellationToken) =>
        reconciler.RunAsync(cancellationToken);
}
