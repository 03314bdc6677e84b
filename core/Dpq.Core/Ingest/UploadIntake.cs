using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>What happened to one upload notification.</summary>
public enum IntakeOutcome { Enqueued, Rejected }

/// <summary>
/// The blob trigger's logic, shared by the Azure Functions host and the local WebJobs host: check
/// an upload, then either enqueue an encode request or record why it will never be indexed. The
/// reconciler sends blobs of both the images and the imports container through it again.
/// </summary>
public sealed class UploadIntake(StorageClients storage, UploadPolicy policy, TimeProvider time, ILogger<UploadIntake> logger)
{
    /// <summary>What both hosts' blob triggers call with the blob they were handed.</summary>
    public async Task<IntakeOutcome> HandleBlobAsync(Azure.Storage.Blobs.BlobClient blob, CancellationToken cancellationToken = default)
    {
        var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        return await HandleAsync(blob.BlobContainerName, blob.Name, properties.ContentLength, properties.ContentType, properties.ETag.ToString(), cancellationToken);
    }

    public async Task<IntakeOutcome> HandleAsync(string container, string blobName, long length, string? contentType, string? etag, CancellationToken cancellationToken = default)
    {
        var (indexName, problem) = Check(container, blobName, length, contentType);
        if (problem is not null)
        {
            logger.LogWarning("Upload {BlobName} rejected: {Reason}", indexName, problem);
            if (!string.IsNullOrWhiteSpace(blobName))
            {
                await new FailureLog(storage.Table(storage.Names.FailuresTable))
                    .RecordAsync(new FailureRecord(indexName, FailureStage.Intake, problem, time.GetUtcNow()), cancellationToken);
            }
            return IntakeOutcome.Rejected;
        }
        var request = EncodeRequest.For(indexName, etag, length, time.GetUtcNow());
        await storage.Queue(storage.Names.EncodeQueue).SendMessageAsync(request.ToJson(), cancellationToken);
        logger.LogInformation("Upload {BlobName} enqueued for encoding as {RequestId}", indexName, request.RequestId);
        return IntakeOutcome.Enqueued;
    }

    /// <summary>The blob's index name (or, if refused, the name its failure is recorded under), and why it may not be indexed (null when it may).</summary>
    private (string IndexName, string? Problem) Check(string container, string blobName, long length, string? contentType)
    {
        if (container == storage.Names.ImportsContainer)
            return (ImageLocation.ForImport(blobName), policy.Check(blobName, length, contentType));
        if (container != storage.Names.ImagesContainer)
            return (blobName, $"container '{container}' is not one the index takes images from");
        // Recorded as "{container}/{name}": under its own name the record would stand for the imported
        // image of that index name, and the reconciler would take that image as settled.
        if (ImageLocation.IsImport(blobName))
            return ($"{container}/{blobName}", $"names under '{ImageLocation.ImportsPrefix}' are reserved for bulk imports; upload it under another name");
        return (blobName, policy.Check(blobName, length, contentType));
    }
}
