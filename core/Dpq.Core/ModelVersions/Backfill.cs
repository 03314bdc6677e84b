using Azure.Storage.Blobs.Models;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.Query;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>What one backfill pass found: images in storage, those the version covers (indexed, or refused with a failure record), requests sent.</summary>
public sealed record BackfillProgress(long Images, long Covered, int Sent, bool QueueBusy)
{
    public bool IsCovered => Covered >= Images;
}

/// <summary>
/// Fills a version being built with every image in storage: each pass lists the images and imports
/// containers and the version's index (its own <see cref="SegmentSetReader"/>), counts the images it covers
/// (indexed, or refused since the blob was last written: a failure record), and, while the encode queue
/// is empty, sends index requests for this version only for the rest (again only after <see cref="ResendAfter"/>),
/// packed as bulk imports pack them.
/// Uploads and deletes meanwhile reach the version through the worker's normal path
/// (<see cref="WritableModels"/>, removals to every version). Repeating a pass is harmless: a request for
/// an image already indexed rewrites the same code.
/// </summary>
public sealed class Backfill(StorageClients storage, IndexStore store, FailureLog failures, UploadPolicy policy, TimeProvider time, ILogger<Backfill> logger)
{
    private const int RequestsPerMessage = 64;

    /// <summary>A request is sent again only this long after the last one for the image: the queue's count leaves out messages a worker holds.</summary>
    public static readonly TimeSpan ResendAfter = TimeSpan.FromMinutes(2);

    /// <summary>An upload this young, made once the workers write to the version, is on its normal way there: covered, so steady uploads never hold the switch back.</summary>
    public static readonly TimeSpan InFlight = TimeSpan.FromMinutes(1);

    private readonly Dictionary<string, SegmentSetReader> _readers = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Version, string Name), DateTimeOffset> _sent = [];

    /// <param name="writesReachItSince">From when every worker writes uploads to the version too (its record's creation, plus the time workers take to see it).</param>
    public async Task<BackfillProgress> RunOnceAsync(string version, CodeFormat format, int shardCountIfNew, DateTimeOffset writesReachItSince,
        CancellationToken cancellationToken = default)
    {
        var blobs = await ImageLocation.ListStoredAsync(storage, cancellationToken);
        var images = (long)blobs.Count;

        if (!_readers.TryGetValue(version, out var reader))
            _readers[version] = reader = new SegmentSetReader(await store.OpenOrCreateAsync(version, shardCountIfNew, format, cancellationToken), format);
        var (entries, read, _) = await reader.RefreshAsync(cancellationToken);
        var snapshot = IndexSnapshot.Build(version, format, entries, reader, time.GetUtcNow(), read);
        for (var s = 0; s < snapshot.Segments.Length; s++)
            for (var i = 0; i < snapshot.Segments[s].Count; i++)
                if (!snapshot.Hidden.Contains(s, i)) blobs.Remove(snapshot.Segments[s].Ids[i]);
        foreach (var failure in await failures.ListAsync(cancellationToken))
            if (blobs.TryGetValue(failure.BlobName, out var b) && failure.Holds(b.Blob.Properties.ETag?.ToString(), b.Blob.Properties.LastModified, DateTimeOffset.MinValue))
                blobs.Remove(failure.BlobName); // a poisoning too: its retry is the reconciler's, not the backfill's
        // What intake refuses can never be indexed: covered, as its failure record says when there is one.
        var inFlightSince = time.GetUtcNow() - InFlight;
        foreach (var (name, (container, blob)) in blobs.ToList())
            if (policy.Check(blob.Name, blob.Properties.ContentLength ?? 0, blob.Properties.ContentType) is not null
                || (container == storage.Names.ImagesContainer && ImageLocation.IsImport(blob.Name))
                || (blob.Properties.LastModified is { } modified && modified > writesReachItSince && modified > inFlightSince))
                blobs.Remove(name);
        var covered = images - blobs.Count;
        if (blobs.Count == 0) return new BackfillProgress(images, covered, 0, false);

        var queue = storage.Queue(storage.Names.EncodeQueue);
        if ((await queue.GetPropertiesAsync(cancellationToken)).Value.ApproximateMessagesCount > 0)
            return new BackfillProgress(images, covered, 0, true); // requests in flight: they may be these
        var now = time.GetUtcNow();
        var requests = blobs.Where(kv => !_sent.TryGetValue((version, kv.Key), out var at) || now - at >= ResendAfter)
            .Select(kv => EncodeRequest.ForVersion(kv.Key, kv.Value.Blob.Properties.ETag?.ToString(), kv.Value.Blob.Properties.ContentLength ?? 0, now, version)).ToList();
        foreach (var batch in EncodeMessage.Batches(requests, RequestsPerMessage))
        {
            await queue.SendMessageAsync(EncodeMessage.Pack(batch), cancellationToken);
            foreach (var request in batch) _sent[(version, request.BlobName)] = now;
        }
        logger.LogInformation("Backfill of {ModelVersion}: {Covered} of {Images} images covered; {Sent} requests sent", version, covered, images, requests.Count);
        return new BackfillProgress(images, covered, requests.Count, false);
    }
}
