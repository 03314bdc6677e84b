using Azure.Storage.Blobs.Models;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Query;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>What one reconcile pass found: blobs listed, blobs not indexed (sent through intake), indexed images whose blob is gone (removal requested).</summary>
public sealed record ReconcileResult(bool Ran, string Why, int Blobs, int Missing, int Gone = 0);

/// <summary>
/// The safety net under the blob trigger and bulk imports: pages through the images and imports containers
/// and sends every settled blob that is neither in the active model's index (the segment files, held by its
/// own <see cref="SegmentSetReader"/>: this reads no code rows and shares nothing with the query side) nor has
/// a failure record that still holds through intake again. Trigger notifications can be lost (the polling blob
/// trigger misses blobs under load; Event Grid deliveries can expire), an import can stop between its uploads
/// and its messages, and an image must never be silently left out of the index. When the model has copy codes,
/// an image indexed without one (before its model had them) counts as missing too, so that it is encoded again
/// and can be found as a copy. The other direction too: an indexed image no listed blob matched (a delete whose
/// event was lost, or any delete locally, where storage sends no events) gets a removal request, which the
/// worker carries out only if the blob is still gone.
/// A pass holds the index (as the query side does) and one bit per indexed item, not the listing: each page is
/// checked and its requests sent, packed, before the next is read. It runs under load too: a blob written after
/// the oldest message still queued was sent may be in the queue, so only blobs older than that count.
/// </summary>
/// <param name="settleTime">How old a blob must be to count (<see cref="DefaultSettleTime"/> when null).</param>
public sealed class IndexReconciler(StorageClients storage, IndexStore store, FailureLog failures, ActiveModelCache models, UploadIntake intake,
    TimeProvider time, ILogger<IndexReconciler> logger, TimeSpan? settleTime = null)
{
    private readonly SemaphoreSlim _gate = new(1, 1); // one pass at a time: the reader is not thread-safe
    private SegmentSetReader? _reader;

    /// <summary>Blobs younger than this may still be on their way through the trigger.</summary>
    public static readonly TimeSpan DefaultSettleTime = TimeSpan.FromSeconds(15);

    private readonly TimeSpan _settleTime = settleTime ?? DefaultSettleTime;

    /// <summary>Blobs sent through intake at a time (a listing page is 5,000).</summary>
    private const int SendEvery = 1000;

    public async Task<ReconcileResult> RunAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await RunPassAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ReconcileResult> RunPassAsync(CancellationToken cancellationToken)
    {
        var model = await models.GetAsync(cancellationToken);
        if (model is null) return new ReconcileResult(false, "no active model", 0, 0);
        var now = time.GetUtcNow();
        var settled = now - _settleTime;
        if (await OldestQueuedAsync(cancellationToken) is { } oldest && oldest - _settleTime < settled) settled = oldest - _settleTime;

        // The index first, then the listing: an image indexed during the listing is not in this snapshot, so it
        // cannot look gone; one deleted during it is not seen and does.
        var version = model.ModelVersion;
        var snapshot = await IndexedAsync(version, new CodeFormat(model.Codewords, model.Levels), cancellationToken)
            ?? IndexSnapshot.Empty(version, now);
        var seen = snapshot.Segments.Select(segment => new System.Collections.BitArray(segment.Count)).ToArray();
        var needsCopyCodes = model.Copies is not null;
        Dictionary<string, FailureRecord>? failed = null; // read once, when the first unindexed blob comes
        var candidates = new List<StoredBlob>();
        int blobs = 0, missing = 0;
        foreach (var container in new[] { storage.Names.ImagesContainer, storage.Names.ImportsContainer })
        {
            await foreach (var blob in storage.Container(container).GetBlobsAsync(cancellationToken: cancellationToken))
            {
                blobs++;
                var name = ImageLocation.IndexName(storage.Names, container, blob.Name);
                if (snapshot.Find(name) is var (s, i))
                {
                    seen[s][i] = true;
                    if (!needsCopyCodes || snapshot.HasCopyCode(s, i)) continue;
                }
                if (!(blob.Properties.LastModified <= settled)) continue;
                // A failure stands for the blob as it was then: one written again since (a good overwrite whose
                // notification was lost) goes through intake again, and so does a poisoned one once its retry is due.
                failed ??= (await failures.ListAsync(cancellationToken)).ToDictionary(f => f.BlobName, StringComparer.Ordinal);
                if (failed.TryGetValue(name, out var failure) && failure.Holds(blob.Properties.ETag?.ToString(), blob.Properties.LastModified, now)) continue;
                candidates.Add(new StoredBlob(container, blob.Name, blob.Properties.ContentLength ?? 0, blob.Properties.ContentType, blob.Properties.ETag?.ToString()));
                if (candidates.Count >= SendEvery) missing += await SendAsync(candidates, cancellationToken);
            }
        }
        missing += await SendAsync(candidates, cancellationToken);

        var gone = new List<(string Container, string BlobName)>();
        for (var s = 0; s < snapshot.Segments.Length; s++)
            for (var i = 0; i < snapshot.Segments[s].Count; i++)
                if (!seen[s][i] && !snapshot.Hidden.Contains(s, i)) gone.Add(ImageLocation.Locate(storage.Names, snapshot.Segments[s].Ids[i]));
        await intake.HandleDeletedManyAsync(gone, cancellationToken);
        if (missing > 0) logger.LogWarning("Reconcile: {Missing} of {Blobs} images were not indexed for {ModelVersion}; sent through intake again", missing, blobs, version);
        if (gone.Count > 0) logger.LogWarning("Reconcile: {Gone} images indexed for {ModelVersion} have no blob; removal requested", gone.Count, version);
        return new ReconcileResult(true, "done", blobs, missing, gone.Count);
    }

    private async Task<int> SendAsync(List<StoredBlob> candidates, CancellationToken cancellationToken)
    {
        var count = candidates.Count;
        if (count > 0) await intake.HandleManyAsync(candidates, cancellationToken);
        candidates.Clear();
        return count;
    }

    /// <summary>When the oldest visible message of the encode queue was sent; null when none is visible.</summary>
    private async Task<DateTimeOffset?> OldestQueuedAsync(CancellationToken cancellationToken)
    {
        var peeked = (await storage.RawQueue(storage.Names.EncodeQueue).PeekMessagesAsync(1, cancellationToken)).Value;
        return peeked.Length > 0 ? peeked[0].InsertedOn : null;
    }

    /// <summary>The version's index as its segment files list it; null when nothing has been written to it yet.</summary>
    private async Task<IndexSnapshot?> IndexedAsync(string version, CodeFormat format, CancellationToken cancellationToken)
    {
        if (_reader?.Index.ModelVersion != version || _reader.Format != format)
        {
            if (await store.OpenAsync(version, cancellationToken) is not { } index) return null;
            _reader = new SegmentSetReader(index, format);
        }
        var (entries, read, _) = await _reader.RefreshAsync(cancellationToken);
        return IndexSnapshot.Build(version, format, entries, _reader, time.GetUtcNow(), read);
    }
}
