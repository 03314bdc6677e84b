using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Blobs.Models;
using Dpq.Formats;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>The fate of each request in a batch: done (its message may be deleted) or to be retried.</summary>
public sealed record BatchOutcome(IReadOnlyList<EncodeRequest> Done, IReadOnlyList<EncodeRequest> Retry, int Indexed, int Failed);

/// <summary>
/// Encodes one batch of upload requests: downloads the blobs in parallel (the version each request names,
/// by If-Match on its ETag; a file over the size limit is refused from the answer's headers), decodes and encodes them
/// (<see cref="BatchEncoder"/>: limits first, every good image in one forward pass) and stores the codes with <see cref="IndexWriter"/>
/// (table rows, a delta segment, its catalog row). An image that can never decode is recorded in the failures table and is
/// done; anything that may work next time (storage faults) is left for a retry.
/// </summary>
public sealed class EncodeBatchProcessor(StorageClients storage, IndexStore store, IndexWriter writer, FailureLog failures, EncodeWorkerOptions options,
    TimeProvider time, ILogger<EncodeBatchProcessor> logger)
{

    private sealed record Downloaded(EncodeRequest Request, BinaryData Content, ETag ETag, string? Label);

    public async Task<BatchOutcome> ProcessAsync(IReadOnlyList<EncodeRequest> batch, IImageEncoder encoder, CancellationToken cancellationToken = default)
    {
        var done = new ConcurrentBag<EncodeRequest>();
        var retry = new ConcurrentBag<EncodeRequest>();
        var downloaded = new ConcurrentBag<Downloaded>();
        var refusedUnread = new ConcurrentBag<(EncodeRequest Request, string Reason)>(); // refused from the answer's headers, body unread
        int failed = 0, indexedCount = 0;

        await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = options.DownloadParallelism, CancellationToken = cancellationToken }, async (request, ct) =>
        {
            try
            {
                var (container, blobName) = ImageLocation.Locate(storage.Names, request.BlobName);
                // The version the request names (If-Match on its ETag): a blob overwritten since has its own
                // request, so a stale one never overwrites a newer code, and the new bytes are not read here.
                var conditions = request.ETag is { } etag ? new BlobRequestConditions { IfMatch = new ETag(etag) } : null;
                var result = await storage.Container(container).GetBlobClient(blobName).DownloadStreamingAsync(new BlobDownloadOptions { Conditions = conditions }, ct);
                await using var stream = result.Value.Content;
                var length = result.Value.Details.ContentLength;
                if (length > options.Limits.MaxBytes)
                {
                    // Refused from the answer's headers, before its body is read.
                    refusedUnread.Add((request, $"the file has {length} bytes; the limit is {options.Limits.MaxBytes}"));
                    return;
                }
                var label = ClassLabel.FromMetadata(result.Value.Details.Metadata);
                if (label is not null && ClassLabel.Check(label) is { } problem)
                {
                    refusedUnread.Add((request, $"its metadata label is not a class name: {problem}"));
                    return;
                }
                var content = await BinaryData.FromStreamAsync(stream, ct);
                downloaded.Add(new Downloaded(request, content, result.Value.Details.ETag, label));
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                logger.LogInformation("Blob {BlobName} is gone; nothing to encode", request.BlobName);
                done.Add(request);
            }
            catch (RequestFailedException e) when (e.Status == 412)
            {
                logger.LogInformation("Blob {BlobName} changed since its request; the newer upload's own request encodes it", request.BlobName);
                done.Add(request);
            }
            catch (Exception e) when (IsStorageFault(e, ct))
            {
                // Only this request waits for a retry.
                logger.LogWarning(e, "Download of {BlobName} failed; it will be retried", request.BlobName);
                retry.Add(request);
            }
        });

        // Decode and encode (BatchEncoder); rejected images leave the batch here, with those refused unread.
        var items = downloaded.OrderBy(d => d.Request.BlobName, StringComparer.Ordinal).ToArray();
        var encoded = BatchEncoder.Encode([.. items.Select(d => d.Content.ToMemory())], encoder, options.Limits, cancellationToken);
        var refusals = refusedUnread.Concat(items.Select((d, i) => (d.Request, Reason: encoded.Rejected[i])).Where(r => r.Reason is not null).Select(r => (r.Request, r.Reason!)));
        foreach (var (request, reason) in refusals)
        {
            logger.LogWarning("Image {BlobName} cannot be indexed: {Reason}", request.BlobName, reason);
            try
            {
                await failures.RecordAsync(new FailureRecord(request.BlobName, FailureStage.Decode, reason, time.GetUtcNow()), cancellationToken);
            }
            catch (Exception e) when (IsStorageFault(e, cancellationToken))
            {
                // The record could not be written: only this request is tried again, so the refusal is not lost.
                logger.LogWarning(e, "Recording the failure of {BlobName} failed; it will be retried", request.BlobName);
                retry.Add(request);
                continue;
            }
            done.Add(request);
            failed++;
        }

        if (encoded.Good.Length > 0)
        {
            var indexed = encoded.Good.Select((g, j) => new IndexedImage(
                ImageId.FromBlobName(items[g].Request.BlobName), items[g].Request.BlobName, items[g].Label,
                encoded.Code(j).ToArray(), items[g].ETag.ToString(), encoded.CopyCode(j))).ToList();
            try
            {
                // The shard count configured here applies only to a version nothing was written to yet.
                var index = await store.OpenOrCreateAsync(encoder.ModelVersion, options.ShardCount, cancellationToken);
                await writer.WriteAsync(index, new CodeFormat(encoder.Codewords, encoder.Levels), indexed, cancellationToken);
                foreach (var g in encoded.Good) done.Add(items[g].Request);
                indexedCount = indexed.Count;
            }
            catch (RequestFailedException e)
            {
                logger.LogWarning(e, "Writing {Count} codes failed; the batch will be retried", indexed.Count);
                foreach (var g in encoded.Good) retry.Add(items[g].Request);
            }
        }
        logger.LogInformation("Batch of {Count}: {Indexed} indexed for {ModelVersion}, {Failed} failed, {Gone} gone, {Retry} to retry",
            batch.Count, indexedCount, encoder.ModelVersion, failed, done.Count - indexedCount - failed, retry.Count);
        return new BatchOutcome(done.ToList(), retry.ToList(), indexedCount, failed);
    }

    /// <summary>
    /// A storage call that failed and may work next time: an answer (RequestFailedException), the
    /// retry policy giving up on connection errors (it throws AggregateException then), an I/O error,
    /// or a timeout that is not the caller's cancellation.
    /// </summary>
    private static bool IsStorageFault(Exception e, CancellationToken cancellationToken) =>
        e is RequestFailedException or AggregateException or IOException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);
}
