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
/// The safety net under the blob trigger and bulk imports: lists the images and imports containers
/// and sends every settled blob that is neither in the active model's index (the segment files, held by
/// its own <see cref="SegmentSetReader"/>: this reads no code rows and shares nothing with the query
/// side) nor has a failure record through intake again. Trigger notifications can be lost (the polling blob trigger misses
/// blobs under load; Event Grid deliveries can expire), an import can stop between its uploads and
/// its messages, and an image must never be silently left out of the index. When the model has copy
/// codes, an image indexed without one (before its model had them) counts as missing too, so that it
/// is encoded again and can be found as a copy. The other direction too: an indexed image whose blob is
/// gone (a delete whose event was lost, or any delete locally, where storage sends no events) gets a
/// removal request, which the worker carries out only if the blob is still gone. A pass only runs while
/// the encode queue is empty, so work already in flight is not enqueued twice.
/// </summary>
public sealed class IndexReconciler(StorageClients storage, IndexStore store, FailureLog failures, ActiveModelCache models, UploadIntake intake,
    TimeProvider time, ILogger<IndexReconciler> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1); // one pass at a time: the reader is not thread-safe
    private SegmentSetReader? _reader;

    /// <summary>Blobs younger than this may still be on their way through the trigger.</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(15);

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
        var queue = await storage.Queue(storage.Names.EncodeQueue).GetPropertiesAsync(cancellationToken);
        if (queue.Value.ApproximateMessagesCount > 0) return new ReconcileResult(false, "encode queue busy", 0, 0);

        // Every blob (by index name), then the settled ones; the index and the failure records then
        // strike out what they hold. The listing comes first: an image indexed after it looks gone, and
        // the worker's check that its blob is gone keeps it.
        var settled = time.GetUtcNow() - SettleTime;
        var candidates = await ImageLocation.ListStoredAsync(storage, cancellationToken);
        var present = candidates.Keys.ToHashSet(StringComparer.Ordinal);
        foreach (var (name, (_, blob)) in candidates.ToList())
            if (!(blob.Properties.LastModified <= settled)) candidates.Remove(name);
        var blobs = present.Count;
        var version = model.ModelVersion;
        var gone = new List<string>();
        if (await IndexedAsync(version, new CodeFormat(model.Codewords, model.Levels), cancellationToken) is { } snapshot)
        {
            var needsCopyCodes = model.Copies is not null;
            for (var s = 0; s < snapshot.Segments.Length; s++)
            {
                var segment = snapshot.Segments[s];
                for (var i = 0; i < segment.Count; i++)
                {
                    // A hidden item was replaced by a later one of the same id, which decides.
                    if (snapshot.Hidden.Contains(s, i)) continue;
                    var id = segment.Ids[i];
                    if (!present.Contains(id)) gone.Add(id);
                    else if (!needsCopyCodes || snapshot.HasCopyCode(s, i)) candidates.Remove(id);
                }
            }
        }
        if (candidates.Count > 0)
        {
            // A failure stands for the blob as it was then: one written again since (a good
            // overwrite whose notification was lost) goes through intake again, and so does a
            // poisoned one once its retry is due (it may have been a storage outage).
            var now = time.GetUtcNow();
            foreach (var failure in await failures.ListAsync(cancellationToken))
            {
                if (candidates.TryGetValue(failure.BlobName, out var candidate) && failure.Holds(candidate.Blob.Properties.ETag?.ToString(), candidate.Blob.Properties.LastModified, now))
                    candidates.Remove(failure.BlobName);
            }
        }
        foreach (var (container, blob) in candidates.Values)
            await intake.HandleAsync(container, blob.Name, blob.Properties.ContentLength ?? 0, blob.Properties.ContentType, blob.Properties.ETag?.ToString(), cancellationToken);
        foreach (var name in gone)
        {
            var (container, blobName) = ImageLocation.Locate(storage.Names, name);
            await intake.HandleDeletedAsync(container, blobName, cancellationToken);
        }
        var missing = candidates.Count;
        if (missing > 0) logger.LogWarning("Reconcile: {Missing} of {Blobs} images were not indexed for {ModelVersion}; sent through intake again", missing, blobs, version);
        if (gone.Count > 0) logger.LogWarning("Reconcile: {Gone} images indexed for {ModelVersion} have no blob; removal requested", gone.Count, version);
        return new ReconcileResult(true, "done", blobs, missing, gone.Count);
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
