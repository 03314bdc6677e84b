using Azure;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>
/// Makes the newest content's code the last one written. Between a worker's download and its write, the blob
/// may be overwritten and the newer content's code written first by another worker, or the blob deleted and its
/// removal carried out first; the later, stale write would then win. So after a batch is written, each written
/// image's blob is read again (its properties only): one that holds other content now gets a new index request,
/// one that is gone a removal, both sent after the stale write and so carried out after it. Removals likewise:
/// a blob written again since its removal was decided gets an index request.
/// </summary>
public sealed class NewerContentCheck(StorageClients storage, EncodeWorkerOptions options, TimeProvider time, ILogger<NewerContentCheck> logger)
{
    /// <summary>
    /// Checks <paramref name="written"/>: each request with the ETag of the content its code came from, or, for a
    /// removal, of the content it was refused for (null: the blob was gone). Returns the requests sent.
    /// </summary>
    public async Task<int> CheckAsync(IReadOnlyList<(EncodeRequest Request, ETag? Content, bool Removal)> written, CancellationToken cancellationToken = default)
    {
        var followUps = new System.Collections.Concurrent.ConcurrentBag<EncodeRequest>();
        await Parallel.ForEachAsync(written, new ParallelOptions { MaxDegreeOfParallelism = options.DownloadParallelism, CancellationToken = cancellationToken },
            async (w, ct) =>
            {
                var (container, blobName) = ImageLocation.Locate(storage.Names, w.Request.BlobName);
                try
                {
                    var now = (await storage.Container(container).GetBlobClient(blobName).GetPropertiesAsync(cancellationToken: ct)).Value;
                    if (now.ETag == w.Content) return; // what was stored is about what the blob holds
                    logger.LogInformation("Blob {BlobName} was written again while its code or removal was being stored; it is encoded again", w.Request.BlobName);
                    followUps.Add(EncodeRequest.For(w.Request.BlobName, now.ETag.ToString(), now.ContentLength, time.GetUtcNow()));
                }
                catch (RequestFailedException e) when (e.Status == 404 && !w.Removal)
                {
                    logger.LogInformation("Blob {BlobName} was deleted while its code was being stored; it leaves the index again", w.Request.BlobName);
                    followUps.Add(EncodeRequest.Removal(w.Request.BlobName, null, time.GetUtcNow()));
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    // Removed, and still gone.
                }
                catch (Exception e) when (EncodeBatchProcessor.IsStorageFault(e, ct))
                {
                    // The write stands; a newer upload's own request, or the reconciler, still brings its code.
                    logger.LogWarning(e, "Checking {BlobName} after its write failed", w.Request.BlobName);
                }
            });
        var queue = storage.Queue(storage.Names.EncodeQueue);
        foreach (var batch in EncodeMessage.Batches(followUps, EncodeMessage.MaxRequests))
            await queue.SendMessageAsync(EncodeMessage.Pack(batch), cancellationToken);
        return followUps.Count;
    }
}
