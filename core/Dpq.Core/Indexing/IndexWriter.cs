using Dpq.Formats;

namespace Dpq.Indexing;

/// <summary>
/// Stores codes the way both sides read them: table rows (one per image and version: looked up by id,
/// compared by the reconciler), then the same codes as one delta segment file, listed in the segment
/// catalog (what the query side scans). Every step is an upsert or creates something newly named, so a
/// write repeated after a failure leaves one row per image and at worst a second delta with the same
/// items, which the index reads as one. Last, the search catalog (when there is one) mirrors the write, by key,
/// so it too is repeated harmlessly; if it fails, the whole write is retried.
/// </summary>
public sealed class IndexWriter(TimeProvider time, Catalog.ISearchCatalog? catalog = null)
{
    /// <summary>Longest time from a delta's key to its catalog row; a slower upload is stored again under a new key.</summary>
    public static readonly TimeSpan MaxKeyAge = TimeSpan.FromSeconds(30);

    /// <summary>Writes <paramref name="images"/>' codes into <paramref name="index"/>; returns the delta's catalog key.</summary>
    public Task<string> WriteAsync(VersionIndex index, CodeFormat format, IReadOnlyList<IndexedImage> images, CancellationToken cancellationToken = default) =>
        WriteAsync(index, format, images, [], cancellationToken);

    /// <summary>
    /// Writes <paramref name="images"/>' codes and removes the images named <paramref name="removed"/> (blob names,
    /// none of them among the images): their rows are deleted, and the delta lists them as removed, which hides
    /// them under every older segment until compaction drops them. Returns the delta's catalog key.
    /// </summary>
    public async Task<string> WriteAsync(VersionIndex index, CodeFormat format, IReadOnlyList<IndexedImage> images, IReadOnlyCollection<string> removed,
        CancellationToken cancellationToken = default)
    {
        if (images.Count + removed.Count == 0) throw new ArgumentException("nothing to write: no images and no removals");
        var version = index.ModelVersion;
        var delta = IndexSegments.FromImages(format, version, images, removed); // checks every code before anything is written
        if (images.Count > 0) await index.Rows.WriteAsync(images, cancellationToken);
        if (removed.Count > 0) await index.Rows.DeleteAsync(removed, cancellationToken);
        var key = SegmentCatalog.NewDeltaKey(time);
        await index.Files.UploadAsync(SegmentEntry.BlobNameFor(version, key), delta, cancellationToken);
        if (time.GetUtcNow() - SegmentCatalog.DeltaTime(key) > MaxKeyAge)
        {
            // Too old to list now: a compaction may already have merged later deltas (see DeltaCompactor).
            await index.Files.DeleteAsync(SegmentEntry.BlobNameFor(version, key), cancellationToken);
            key = SegmentCatalog.NewDeltaKey(time);
            await index.Files.UploadAsync(SegmentEntry.BlobNameFor(version, key), delta, cancellationToken);
        }
        await index.Catalog.AddDeltaAsync(key, index.ShardCount, delta.Count, delta.RemovedIds.Count, cancellationToken);
        if (catalog is { IsEnabled: true }) await catalog.MirrorAsync(version, images, removed, cancellationToken);
        return key;
    }
}
