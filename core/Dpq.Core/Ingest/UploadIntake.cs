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
public sealed class UploadIntake(StorageClients storage, FailureLog failures, UploadPolicy policy, TimeProvider time, ILogger<UploadIntake> logger)
{
    private readonly Azure.Storage.Queues.QueueClient _queue = storage.Queue(storage.Names.EncodeQueue);

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
                await failures.RecordAsync(new FailureRecord(indexName, FailureStage.Intake, problem, time.GetUtcNow(), etag), cancellationToken);
            }
            // A refused overwrite of an indexed image must not leave the old code searchable. Only names the
            // index could hold can have one: the rest have nothing to remove.
            if (IsIndexable(container, blobName))
                await _queue.SendMessageAsync(EncodeRequest.Removal(indexName, etag, time.GetUtcNow()).ToJson(), cancellationToken);
            return IntakeOutcome.Rejected;
        }
        var request = EncodeRequest.For(indexName, etag, length, time.GetUtcNow());
        await _queue.SendMessageAsync(request.ToJson(), cancellationToken);
        logger.LogInformation("Upload {BlobName} enqueued for encoding as {RequestId}", indexName, request.RequestId);
        return IntakeOutcome.Enqueued;
    }

    /// <summary>
    /// A blob was deleted (an Event Grid BlobDeleted event, or the reconciler finding an indexed image whose
    /// blob is gone): a removal request for the worker, which checks that the blob is still gone.
    /// </summary>
    public async Task HandleDeletedAsync(string container, string blobName, CancellationToken cancellationToken = default)
    {
        if (!IsIndexable(container, blobName))
        {
            logger.LogInformation("Deleted blob {Container}/{BlobName} cannot be in the index; nothing to remove", container, blobName);
            return;
        }
        var indexName = ImageLocation.IndexName(storage.Names, container, blobName);
        await _queue.SendMessageAsync(EncodeRequest.Removal(indexName, null, time.GetUtcNow()).ToJson(), cancellationToken);
        logger.LogInformation("Deleted blob {BlobName}: removal enqueued", indexName);
    }

    /// <summary>Whether a blob of this container and name could be in the index (what a removal request may name).</summary>
    private bool IsIndexable(string container, string blobName) =>
        (container == storage.Names.ImportsContainer || (container == storage.Names.ImagesContainer && !ImageLocation.IsImport(blobName)))
        && !string.IsNullOrWhiteSpace(blobName) && policy.CheckName(blobName) is null;

    /// <summary>The blob's index name (for a refused one, the name its refusal is recorded under), and why it may not be indexed (null when it may).</summary>
    private (string IndexName, string? Problem) Check(string container, string blobName, long length, string? contentType)
    {
        var indexName = ImageLocation.IndexName(storage.Names, container, blobName);
        if (container != storage.Names.ImagesContainer && container != storage.Names.ImportsContainer)
            return (indexName, $"container '{container}' is not one the index takes images from");
        if (container == storage.Names.ImagesContainer && ImageLocation.IsImport(blobName))
            return (indexName, $"names under '{ImageLocation.ImportsPrefix}' are reserved for bulk imports; upload it under another name");
        return (indexName, policy.Check(blobName, length, contentType));
    }
}
