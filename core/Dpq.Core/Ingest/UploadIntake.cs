using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>What happened to one upload notification.</summary>
public enum IntakeOutcome { Enqueued, Rejected }

/// <summary>
/// The blob trigger's logic, shared by the Azure Functions host and the local WebJobs host: check
/// an upload, then either enqueue an encode request or record why it will never be indexed.
/// </summary>
public sealed class UploadIntake(StorageClients storage, UploadPolicy policy, TimeProvider time, ILogger<UploadIntake> logger)
{
    /// <summary>What both hosts' blob triggers call with the blob they were handed.</summary>
    public async Task<IntakeOutcome> HandleBlobAsync(Azure.Storage.Blobs.BlobClient blob, CancellationToken cancellationToken = default)
    {
        var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
        return await HandleAsync(blob.Name, properties.ContentLength, properties.ContentType, properties.ETag.ToString(), cancellationToken);
    }

    public async Task<IntakeOutcome> HandleAsync(string blobName, long length, string? contentType, string? etag, CancellationToken cancellationToken = default)
    {
        var problem = policy.Check(blobName, length, contentType);
        if (problem is not null)
        {
            logger.LogWarning("Upload {BlobName} rejected: {Reason}", blobName, problem);
            if (!string.IsNullOrWhiteSpace(blobName))
            {
                await new FailureLog(storage.Table(storage.Names.FailuresTable))
                    .RecordAsync(new FailureRecord(blobName, FailureStage.Intake, problem, time.GetUtcNow()), cancellationToken);
            }
            return IntakeOutcome.Rejected;
        }
        var request = EncodeRequest.For(blobName, etag, length, time.GetUtcNow());
        await storage.Queue(storage.Names.EncodeQueue).SendMessageAsync(request.ToJson(), cancellationToken);
        logger.LogInformation("Upload {BlobName} enqueued for encoding as {RequestId}", blobName, request.RequestId);
        return IntakeOutcome.Enqueued;
    }
}
