using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Blobs.Models;
using Dpq.Formats;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>The fate of each request in a batch: done (its message may be deleted) or to be retried. Removed: images taken out of the index.</summary>
public sealed record BatchOutcome(IReadOnlyList<EncodeRequest> Done, IReadOnlyList<EncodeRequest> Retry, int Indexed, int Failed, int Removed = 0);

/// <summary>
/// Carries out one batch of requests for every model version that takes writes (<paramref name="encoders"/>
/// of <see cref="ProcessAsync"/>: the active one and any being built): downloads the blobs in parallel (the
/// version each request names, by If-Match on its ETag; a file over the size limit is refused from the
/// answer's headers), decodes and encodes them for each version (<see cref="BatchEncoder"/>: limits first,
/// every good image in one forward pass) and stores each version's codes with <see cref="IndexWriter"/>
/// (table rows, a delta segment, its catalog row). Images whose blob is gone, removal requests whose blob is
/// still gone or still holds the refused version, and images refused now are removed from every version's
/// index in the same write. An image that can never decode is recorded in the failures table and is done;
/// one whose decoder faults goes to the poison queue alone; anything that may work next time (storage
/// faults, memory) is left for a retry. Whatever one request meets, the others go on.
/// </summary>
public sealed class EncodeBatchProcessor(StorageClients storage, IndexStore store, IndexWriter writer, FailureLog failures, EncodePoison poison,
    NewerContentCheck newer, IImageDecoder decoder, UploadPolicy policy, EncodeWorkerOptions options, Telemetry.DpqMetrics metrics, TimeProvider time, ILogger<EncodeBatchProcessor> logger)
{
    private sealed record Downloaded(EncodeRequest Request, BinaryData Content, ETag ETag, string? Label, DateTimeOffset LastModified);

    public async Task<BatchOutcome> ProcessAsync(IReadOnlyList<EncodeRequest> batch, IReadOnlyList<IImageEncoder> encoders, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(encoders.Count);
        var done = new ConcurrentBag<EncodeRequest>();
        var retry = new ConcurrentBag<EncodeRequest>();
        var downloaded = new ConcurrentBag<Downloaded>();
        var refusedUnread = new ConcurrentBag<(EncodeRequest Request, ETag ETag, string Reason)>(); // refused from the answer's headers, body unread
        var removals = new ConcurrentBag<EncodeRequest>(); // what leaves every version's index, done once that is written
        int failed = 0, indexedCount = 0;

        await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = options.DownloadParallelism, CancellationToken = cancellationToken }, async (request, ct) =>
        {
            try
            {
                // Intake checked the name, but anyone who may send to the queue could send another: one that climbs
                // out of its container, say. Such a request is set aside alone.
                if (policy.CheckName(ImageLocation.Locate(storage.Names, request.BlobName).BlobName) is { } badName)
                {
                    logger.LogError("Request for {BlobName} names no image intake would take ({Reason}); it goes to the poison queue", request.BlobName, badName);
                    await poison.SendAsync(request, $"its name is refused: {badName}", ct);
                    done.Add(request);
                    Interlocked.Increment(ref failed);
                    return;
                }
                if (request.Action == EncodeAction.Remove)
                {
                    if (await IsRemovableAsync(request, ct)) removals.Add(request);
                    else done.Add(request);
                    return;
                }
                if (request.ModelVersion is { } target && encoders.All(e => e.ModelVersion != target))
                {
                    logger.LogInformation("Request for {BlobName} names version {ModelVersion}, which takes no writes here now; dropped", request.BlobName, target);
                    done.Add(request);
                    return;
                }
                var (container, blobName) = ImageLocation.Locate(storage.Names, request.BlobName);
                // The version the request names (If-Match on its ETag): a blob overwritten since has its own
                // request, so a stale one never overwrites a newer code, and the new bytes are not read here.
                var conditions = request.ETag is { } etag ? new BlobRequestConditions { IfMatch = new ETag(etag) } : null;
                var result = await storage.Container(container).GetBlobClient(blobName).DownloadStreamingAsync(new BlobDownloadOptions { Conditions = conditions }, ct);
                await using var stream = result.Value.Content;
                var length = result.Value.Details.ContentLength;
                if (request.Length > 0 && length != request.Length)
                {
                    // Not the content the request was made for (a request without an ETag, for a blob written since).
                    logger.LogInformation("Blob {BlobName} has {Length} bytes, not the {Expected} of its request; the newer upload's own request encodes it",
                        request.BlobName, length, request.Length);
                    done.Add(request);
                    return;
                }
                if (length > options.Limits.MaxBytes)
                {
                    // Refused from the answer's headers, before its body is read.
                    refusedUnread.Add((request, result.Value.Details.ETag, $"the file has {length} bytes; the limit is {options.Limits.MaxBytes}"));
                    return;
                }
                var label = ClassLabel.FromMetadata(result.Value.Details.Metadata);
                if (label is not null && ClassLabel.Check(label) is { } problem)
                {
                    refusedUnread.Add((request, result.Value.Details.ETag, $"its metadata label is not a class name: {problem}"));
                    return;
                }
                var content = await BinaryData.FromStreamAsync(stream, ct);
                downloaded.Add(new Downloaded(request, content, result.Value.Details.ETag, label, result.Value.Details.LastModified));
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                logger.LogInformation("Blob {BlobName} is gone; it leaves the index", request.BlobName);
                removals.Add(request);
            }
            catch (RequestFailedException e) when (e.Status == 412)
            {
                logger.LogInformation("Blob {BlobName} changed since its request; the newer upload's own request encodes it", request.BlobName);
                done.Add(request);
            }
            catch (Exception e) when (IsStorageFault(e, ct))
            {
                // Only this request waits for a retry.
                logger.LogWarning(e, "Reading {BlobName} failed; it will be retried", request.BlobName);
                retry.Add(request);
            }
        });

        // Decode and encode for each version (BatchEncoder); an image refused for any of them leaves the batch here,
        // with those refused unread.
        var items = downloaded.OrderBy(d => d.Request.BlobName, StringComparer.Ordinal).ToArray();
        var contents = items.Select(d => d.Content.ToMemory()).ToArray();
        var encodedFor = encoders.Select(encoder =>
        {
            var started = time.GetTimestamp();
            var encoded = BatchEncoder.Encode(contents, encoder, options.Limits, cancellationToken, decoder: decoder);
            if (contents.Length > 0) metrics.Encoded(time.GetElapsedTime(started), encoder.ModelVersion);
            return encoded;
        }).ToArray();
        var refusedNow = Enumerable.Range(0, items.Length)
            .Select(i => (items[i].Request, items[i].ETag, Reason: encodedFor.Select(e => e.Rejected[i]).FirstOrDefault(r => r is not null)))
            .Where(r => r.Reason is not null).Select(r => (r.Request, r.ETag, Reason: r.Reason!)).ToList();
        foreach (var (request, etag, reason) in refusedUnread.Concat(refusedNow))
        {
            logger.LogWarning("Image {BlobName} cannot be indexed: {Reason}", request.BlobName, reason);
            bool stillThere;
            try
            {
                await failures.RecordAsync(new FailureRecord(request.BlobName, FailureStage.Decode, reason, time.GetUtcNow(), etag.ToString()), cancellationToken);
                // A refused overwrite must not leave the old code searchable, unless the blob was written again
                // since it was read: then the newer content's own request decides.
                stillThere = await IsRemovableAsync(request with { ETag = etag.ToString() }, cancellationToken);
            }
            catch (Exception e) when (IsStorageFault(e, cancellationToken))
            {
                // The record could not be written: only this request is tried again, so the refusal is not lost.
                logger.LogWarning(e, "Recording the failure of {BlobName} failed; it will be retried", request.BlobName);
                retry.Add(request);
                continue;
            }
            if (stillThere) removals.Add(request with { ETag = etag.ToString() }); // removed for this content
            else done.Add(request);
            failed++;
        }
        var refusedNames = refusedUnread.Concat(refusedNow).Select(r => r.Request.BlobName).ToHashSet(StringComparer.Ordinal);

        // A decoder that threw something other than a refusal: short of memory, the image is tried again;
        // otherwise it is a fault this file triggers, and the request goes to the poison queue alone.
        var faulted = Enumerable.Range(0, items.Length)
            .Select(i => (items[i].Request, Fault: encodedFor.Select(e => e.Faults?[i]).FirstOrDefault(f => f is not null)))
            .Where(f => f.Fault is not null && !refusedNames.Contains(f.Request.BlobName)).ToList();
        foreach (var (request, fault) in faulted)
        {
            if (fault is OutOfMemoryException or InsufficientMemoryException)
            {
                logger.LogWarning(fault, "Decoding {BlobName} ran out of memory; it will be retried", request.BlobName);
                retry.Add(request);
                continue;
            }
            logger.LogError(fault, "Decoding {BlobName} threw; the request goes to the poison queue alone", request.BlobName);
            try
            {
                await poison.SendAsync(request, $"decoding threw {fault!.GetType().Name}: {fault.Message}", cancellationToken);
                done.Add(request);
                failed++;
            }
            catch (Exception e) when (IsStorageFault(e, cancellationToken))
            {
                logger.LogWarning(e, "Setting {BlobName} aside failed; it will be retried", request.BlobName);
                retry.Add(request);
            }
        }
        // What is refused or faulted takes no code in this batch.
        var setAside = refusedNames.Concat(faulted.Select(f => f.Request.BlobName)).ToHashSet(StringComparer.Ordinal);

        // A blob read whole just now exists: a removal of the same name in this batch is superseded by its code.
        var present = items.Select(i => i.Request.BlobName).Where(n => !refusedNames.Contains(n)).ToHashSet(StringComparer.Ordinal);
        var removed = removals.Select(r => r.BlobName).Where(n => !present.Contains(n)).Distinct(StringComparer.Ordinal).ToList();
        var writes = new List<(VersionIndex Index, CodeFormat Format, List<IndexedImage> Images, List<EncodeRequest> Requests)>();
        try
        {
            for (var v = 0; v < encoders.Count; v++)
            {
                var encoder = encoders[v];
                var encoded = encodedFor[v];
                var format = new CodeFormat(encoder.Codewords, encoder.Levels);
                var good = encoded.Good.Select((g, j) => (g, j))
                    .Where(x => !setAside.Contains(items[x.g].Request.BlobName)
                        && (items[x.g].Request.ModelVersion is null || items[x.g].Request.ModelVersion == encoder.ModelVersion))
                    .ToList();
                var images = good.Select(x => new IndexedImage(ImageId.FromBlobName(items[x.g].Request.BlobName), items[x.g].Request.BlobName, items[x.g].Label,
                    encoded.Code(x.j).ToArray(), items[x.g].ETag.ToString(), encoded.CopyCode(x.j), items[x.g].LastModified)).ToList();
                if (images.Count == 0 && removed.Count == 0) continue;
                // The shard count configured here applies only to a version nothing was written to yet.
                var index = await store.OpenOrCreateAsync(encoder.ModelVersion, options.ShardCount, format, cancellationToken);
                writes.Add((index, format, images, [.. good.Select(x => items[x.g].Request)]));
            }
            if (removed.Count > 0)
            {
                // Removals reach every version with an index, also those that take no new codes (kept for a rollback).
                foreach (var index in await store.ListAsync(cancellationToken))
                {
                    if (writes.Any(w => w.Index.ModelVersion == index.ModelVersion)) continue;
                    if (index.Format is { } format) writes.Add((index, format, [], []));
                    else logger.LogWarning("Version {ModelVersion} has no recorded code format; {Count} removals skip it", index.ModelVersion, removed.Count);
                }
            }
        }
        catch (Exception e) when (IsStorageFault(e, cancellationToken))
        {
            logger.LogWarning(e, "Opening the indexes failed; the batch will be retried");
            writes.Clear();
            foreach (var item in items.Where(i => !setAside.Contains(i.Request.BlobName))) retry.Add(item.Request);
            foreach (var r in removals) retry.Add(r);
            return Outcome(batch, done, retry, 0, failed, 0, encoders[0].ModelVersion);
        }

        var writtenEverywhere = true;
        var writtenImages = new HashSet<string>(StringComparer.Ordinal); // request ids written to every version they go to
        var failedImages = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (index, format, images, requests) in writes)
        {
            try
            {
                await writer.WriteAsync(index, format, images, removed, cancellationToken);
                writtenImages.UnionWith(requests.Select(r => r.RequestId));
                if (index.ModelVersion == encoders[0].ModelVersion) indexedCount = images.Count;
            }
            catch (Exception e) when (IsStorageFault(e, cancellationToken))
            {
                logger.LogWarning(e, "Writing {Count} codes and {Removed} removals of {ModelVersion} failed; they will be retried", images.Count, removed.Count, index.ModelVersion);
                writtenEverywhere = false;
                failedImages.UnionWith(requests.Select(r => r.RequestId));
            }
        }
        foreach (var item in items.Where(i => !setAside.Contains(i.Request.BlobName)))
        {
            var id = item.Request.RequestId;
            if (failedImages.Contains(id)) retry.Add(item.Request);
            else if (writtenImages.Contains(id)) done.Add(item.Request);
        }
        foreach (var r in removals)
            if (writtenEverywhere) done.Add(r); else retry.Add(r);

        // What was stored may already be stale: the blobs are read again, after the write (NewerContentCheck).
        var stored = items.Where(i => !setAside.Contains(i.Request.BlobName) && writtenImages.Contains(i.Request.RequestId))
            .Select(i => (i.Request, Content: (ETag?)i.ETag, Removal: false));
        if (writtenEverywhere)
            stored = stored.Concat(removals.Where(r => removed.Contains(r.BlobName)).DistinctBy(r => r.BlobName)
                .Select(r => (r, Content: r.ETag is { } e ? new ETag(e) : (ETag?)null, Removal: true)));
        try
        {
            await newer.CheckAsync([.. stored], cancellationToken);
        }
        catch (Exception e) when (IsStorageFault(e, cancellationToken))
        {
            logger.LogWarning(e, "Sending requests for content that changed during the batch failed; their own notifications still bring it");
        }
        return Outcome(batch, done, retry, indexedCount, failed, writtenEverywhere ? removed.Count : 0, encoders[0].ModelVersion);
    }

    private BatchOutcome Outcome(IReadOnlyList<EncodeRequest> batch, ConcurrentBag<EncodeRequest> done, ConcurrentBag<EncodeRequest> retry, int indexed, int failed, int removed, string version)
    {
        // A request is done once, and never both done and retried (a refusal whose record failed is only retried).
        var retried = retry.Select(r => r.RequestId).ToHashSet(StringComparer.Ordinal);
        var finished = done.Where(r => !retried.Contains(r.RequestId)).DistinctBy(r => r.RequestId).ToList();
        var again = retry.DistinctBy(r => r.RequestId).ToList();
        logger.LogInformation("Batch of {Count}: {Indexed} indexed for {ModelVersion}, {Failed} failed, {Removed} removed, {Retry} to retry",
            batch.Count, indexed, version, failed, removed, again.Count);
        return new BatchOutcome(finished, again, indexed, failed, removed);
    }

    /// <summary>
    /// Whether a removal request still holds: the blob is gone, or it still holds the version the request names
    /// (a refused overwrite). A blob written again since keeps its code: its own request decides.
    /// </summary>
    private async Task<bool> IsRemovableAsync(EncodeRequest request, CancellationToken cancellationToken)
    {
        var (container, blobName) = ImageLocation.Locate(storage.Names, request.BlobName);
        try
        {
            var properties = await storage.Container(container).GetBlobClient(blobName).GetPropertiesAsync(cancellationToken: cancellationToken);
            return request.ETag is { } etag && properties.Value.ETag == new ETag(etag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return true;
        }
    }

    /// <summary>
    /// A storage call that failed and may work next time: an answer (RequestFailedException), the
    /// retry policy giving up on connection errors (it throws AggregateException then), an I/O error,
    /// the search catalog's mirror failing past its retries, or a timeout that is not the caller's cancellation.
    /// </summary>
    internal static bool IsStorageFault(Exception e, CancellationToken cancellationToken) =>
        e is RequestFailedException or AggregateException or IOException or Catalog.CatalogUnavailableException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);
}
