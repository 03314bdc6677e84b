using Dpq.Formats;
using Dpq.Storage;

namespace Dpq.Indexing;

/// <summary>
/// Stores codes the way both sides read them: table rows (one per image and version: looked up by id,
/// compared by the reconciler), then the same codes as one delta segment file, listed in the segment
/// catalog (what the query side scans), then the shard manifest's generations. Every step is an
/// upsert or creates something newly named, so a write repeated after a failure leaves one row per
/// image and at worst a second delta with the same items, which the index reads as one.
/// </summary>
public sealed class IndexWriter(StorageClients storage, TimeProvider time)
{
    /// <summary>Longest time from a delta's key to its catalog row; a slower upload is stored again under a new key.</summary>
    public static readonly TimeSpan MaxKeyAge = TimeSpan.FromSeconds(30);

    private readonly CodeTable _codes = new(storage.Table(storage.Names.CodesTable));
    private readonly ShardManifest _manifest = new(storage.Table(storage.Names.ManifestsTable));
    private readonly SegmentCatalog _catalog = new(storage.Table(storage.Names.ManifestsTable));
    private readonly SegmentStore _segments = new(storage.Container(storage.Names.SegmentsContainer));

    /// <summary>Writes <paramref name="images"/>' codes for <paramref name="modelVersion"/>; returns the delta's catalog key.</summary>
    public async Task<string> WriteAsync(string modelVersion, CodeFormat format, int shardCount, IReadOnlyList<IndexedImage> images,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(images.Count);
        var delta = IndexSegments.FromImages(format, modelVersion, images); // checks every code before anything is written
        var shards = await _codes.WriteAsync(modelVersion, shardCount, images, cancellationToken);
        var key = SegmentCatalog.NewDeltaKey(time);
        await _segments.UploadAsync(SegmentEntry.BlobNameFor(modelVersion, key), delta, cancellationToken);
        if (time.GetUtcNow() - SegmentCatalog.DeltaTime(key) > MaxKeyAge)
        {
            // Too old to list now: a compaction may already have merged later deltas (see SegmentCompactor).
            await _segments.DeleteAsync(SegmentEntry.BlobNameFor(modelVersion, key), cancellationToken);
            key = SegmentCatalog.NewDeltaKey(time);
            await _segments.UploadAsync(SegmentEntry.BlobNameFor(modelVersion, key), delta, cancellationToken);
        }
        await _catalog.AddDeltaAsync(modelVersion, key, shardCount, delta.Count, cancellationToken);
        await _manifest.BumpAsync(modelVersion, shardCount, shards, time, cancellationToken);
        return key;
    }
}
