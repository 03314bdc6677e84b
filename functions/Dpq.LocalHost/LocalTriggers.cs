using Azure.Storage.Blobs;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Microsoft.Azure.WebJobs;

namespace Dpq.LocalHost;

// The Azure Functions app's triggers, as the WebJobs SDK declares them. Each body is the same
// single call into core as its twin in functions/Dpq.Functions.

/// <summary>Twin of BlobUploadTrigger. Locally the blob trigger polls the container (no Event Grid).</summary>
public sealed class LocalBlobUploadTrigger(UploadIntake intake)
{
    [FunctionName("BlobUploadTrigger")]
    public Task Run([BlobTrigger("%DPQ_IMAGES_CONTAINER%/{name}", Connection = "DpqStorage")] BlobClient blob, CancellationToken cancellationToken) =>
        intake.HandleBlobAsync(blob, cancellationToken);
}

/// <summary>Twin of IntakePoisonTrigger.</summary>
public sealed class LocalIntakePoisonTrigger(IntakePoison poison)
{
    [FunctionName("IntakePoisonTrigger")]
    public Task Run([QueueTrigger(IntakePoison.QueueName, Connection = "DpqStorage")] string message, CancellationToken cancellationToken) =>
        poison.RecordAsync(message, cancellationToken);
}

/// <summary>Twin of RetrainTimerTrigger.</summary>
public sealed class LocalRetrainTimerTrigger(RetrainScheduler scheduler)
{
    [FunctionName("RetrainTimerTrigger")]
    public Task Run([TimerTrigger("%DPQ_RETRAIN_SCHEDULE%")] TimerInfo timer, CancellationToken cancellationToken) =>
        scheduler.RequestAsync(timer.ScheduleStatus?.Next ?? DateTime.UtcNow, cancellationToken);
}

/// <summary>Twin of ReconcileTimerTrigger.</summary>
public sealed class LocalReconcileTimerTrigger(IndexReconciler reconciler)
{
    [FunctionName("ReconcileTimerTrigger")]
    public Task Run([TimerTrigger("%DPQ_RECONCILE_SCHEDULE%")] TimerInfo timer, CancellationToken cancellationToken) =>
        reconciler.RunAsync(cancellationToken);
}
