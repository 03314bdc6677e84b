using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>What happened to one upload notification.</summary>
public enum IntakeOutcome { Enqueued, Rejected }

/// <summary>A blob as a notification or a listing describes it.</summary>
public sealed record StoredBlob(string Container, string BlobName, long Length, string? ContentType, string? ETag);

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
        // The trace the encode request carries to the worker (a child of the host's invocation, when it has one).
        using var activity = Telemetry.DpqTelemetry.Source.StartActivity("dpq.intake.upload", System.Diagnostics.ActivityKind.Producer);
        activity?.SetTag("dpq.blob.name", $"{container}/{blobName}");
        var (request, outcome) = await DecideAsync(new StoredBlob(container, blobName, length, contentType, etag), cancellationToken);
        if (request is not null) await _queue.SendMessageAsync(request.ToJson(), cancellationToken);
        if (outcome == IntakeOutcome.Enqueued) logger.LogInformation("Upload {BlobName} enqueued for encoding as {RequestId}", request!.BlobName, request.RequestId);
        return outcome;
    }

    /// <summary>
    /// What <see cref="HandleAsync"/> does, for many blobs at once (the reconciler's): the requests go out packed,
    /// <see cref="RequestsPerMessage"/> to a message. Returns how many were enqueued for encoding.
    /// </summary>
    public async Task<int> HandleManyAsync(IEnumerable<StoredBlob> blobs, CancellationToken cancellationToken = default)
    {
        using var activity = Telemetry.DpqTelemetry.Source.StartActivity("dpq.intake.many", System.Diagnostics.ActivityKind.Producer);
        var requests = new List<EncodeRequest>();
        var enqueued = 0;
        foreach (var blob in blobs)
        {
            var (request, outcome) = await DecideAsync(blob, cancellationToken);
            if (request is not null) requests.Add(request);
            if (outcome == IntakeOutcome.Enqueued) enqueued++;
        }
        await SendPackedAsync(requests, cancellationToken);
        return enqueued;
    }

    /// <summary>Requests per message from <see cref="HandleManyAsync"/> and <see cref="HandleDeletedManyAsync"/>.</summary>
    public const int RequestsPerMessage = 64;

    /// <summary>The request to send for one upload (an index request, a removal for a refused overwrite, or none), and its outcome.</summary>
    private async Task<(EncodeRequest? Request, IntakeOutcome Outcome)> DecideAsync(StoredBlob blob, CancellationToken cancellationToken)
    {
        var (container, blobName, length, contentType, etag) = blob;
        var (indexName, problem) = Check(container, blobName, length, contentType);
        if (problem is null) return (EncodeRequest.For(indexName, etag, length, time.GetUtcNow()), IntakeOutcome.Enqueued);
        logger.LogWarning("Upload {BlobName} rejected: {Reason}", indexName, problem);
        if (!string.IsNullOrWhiteSpace(blobName))
            await failures.RecordAsync(new FailureRecord(indexName, FailureStage.Intake, problem, time.GetUtcNow(), etag), cancellationToken);
        // A refused overwrite of an indexed image must not leave the old code searchable. Only names the
        // index could hold can have one: the rest have nothing to remove.
        return (IsIndexable(container, blobName) ? EncodeRequest.Removal(indexName, etag, time.GetUtcNow()) : null, IntakeOutcome.Rejected);
    }

    private async Task SendPackedAsync(IReadOnlyList<EncodeRequest> requests, CancellationToken cancellationToken)
    {
        foreach (var batch in EncodeMessage.Batches(requests, RequestsPerMessage))
            await _queue.SendMessageAsync(EncodeMessage.Pack(batch), cancellationToken);
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
        using var activity = Telemetry.DpqTelemetry.Source.StartActivity("dpq.intake.delete", System.Diagnostics.ActivityKind.Producer);
        activity?.SetTag("dpq.blob.name", indexName);
        await _queue.SendMessageAsync(EncodeRequest.Removal(indexName, null, time.GetUtcNow()).ToJson(), cancellationToken);
        logger.LogInformation("Deleted blob {BlobName}: removal enqueued", indexName);
    }

    /// <summary>Removal requests for indexed images whose blob is gone (the reconciler's), packed <see cref="RequestsPerMessage"/> to a message.</summary>
    public async Task HandleDeletedManyAsync(IEnumerable<(string Container, string BlobName)> deleted, CancellationToken cancellationToken = default)
    {
        var requests = deleted.Where(d => IsIndexable(d.Container, d.BlobName))
            .Select(d => EncodeRequest.Removal(ImageLocation.IndexName(storage.Names, d.Container, d.BlobName), null, time.GetUtcNow())).ToList();
        await SendPackedAsync(requests, cancellationToken);
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
