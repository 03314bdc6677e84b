using Azure.Storage.Blobs;
using Dpq.Ingest;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>An image lands in the images container: check it and enqueue an encode request.</summary>
public sealed class BlobUploadTrigger(UploadIntake intake)
{
    [Function(nameof(BlobUploadTrigger))]
    public Task Run(
        [BlobTrigger("%DPQ_IMAGES_CONTAINER%/{name}", Source = BlobTriggerSource.EventGrid, Connection = "DpqStorage")] BlobClient blob,
        CancellationToken cancellationToken) =>
        intake.HandleBlobAsync(blob, cancellationToken);
}
