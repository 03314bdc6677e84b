using Azure.Storage.Blobs;
using Dpq.Ingest;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>An image lands in the images container: check it and enqueue an encode request.</summary>
public sealed class BlobUploadTrigger(UploadIntake intake)
{
    [Function(nameof(BlobUploadTrigger))]
    public async Task Run(
        [BlobTrigger("%DPQ_IMAGES_CONTAINER%/{name}", Source = BlobTriggerSource.EventGrid, Connection = "DpqStorage")] BlobClient blob,
        string name, CancellationToken cancellationToken)
    {
        var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        await intake.HandleAsync(name, properties.ContentLength, properties.ContentType, properties.ETag.ToString(), cancellationToken);
    }
}
