using System.ComponentModel.DataAnnotations;
using Dpq.Formats;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Indexing;

/// <summary>How the worker compacts the index. Bound from configuration section "Compaction".</summary>
public sealed record CompactionOptions
{
    public const string Section = "Compaction";

    /// <summary>Pause between compaction passes.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A pass waits until at least this many deltas are listed.</summary>
    [Range(1, 1000)] public int MinDeltas { get; init; } = 8;

    /// <summary>Segment files no catalog row lists are deleted once this old (younger ones may be a write in flight).</summary>
    public TimeSpan OrphanAge { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>What one compaction pass did. Conflict: another compactor changed the catalog first; nothing was changed.</summary>
public sealed record CompactionResult(int DeltasMerged, int ShardsRewritten, long Items, bool Conflict)
{
    public static CompactionResult Nothing { get; } = new(0, 0, 0, false);
}

/// <summary>
/// Seals deltas into per-shard segments: loads the oldest deltas (as many as one catalog transaction
/// can retire), merges each touched shard's sealed segment with their items for that shard (later
/// items of an id win, the order the query side reads them in), stores the new sealed files, then
/// swaps catalog rows in one transaction and deletes the replaced files. The index a query sees is
/// the same before and after. Two compactors racing: the second transaction fails on the ETags and
/// its new files are deleted.
/// </summary>
public sealed class SegmentCompactor(StorageClients storage, TimeProvider time, ILogger<SegmentCompactor> logger)
{
    private readonly SegmentCatalog _catalog = new(storage.Table(storage.Names.ManifestsTable));
    private readonly SegmentStore _segments = new(storage.Container(storage.Names.SegmentsContainer));

    /// <summary>Twice <see cref="IndexWriter.MaxKeyAge"/>: room for that and for writers' clocks differing by up to as much.</summary>
    public static readonly TimeSpan DefaultSettle = 2 * IndexWriter.MaxKeyAge;

    /// <summary>
    /// One pass over <paramref name="modelVersion"/>'s catalog; does nothing below <paramref name="minDeltas"/>
    /// deltas. Only deltas keyed more than <paramref name="settle"/> ago are merged: a delta listed later
    /// must sort after every merged one (its writer re-keys it if its row would be added more than
    /// <see cref="IndexWriter.MaxKeyAge"/> after its key), or it would override newer sealed codes.
    /// </summary>
    public async Task<CompactionResult> CompactOnceAsync(string modelVersion, int minDeltas = 1, TimeSpan? settle = null, CancellationToken cancellationToken = default)
    {
        var entries = await _catalog.ListAsync(modelVersion, cancellationToken);
        var settledBefore = time.GetUtcNow() - (settle ?? DefaultSettle);
        var deltas = entries.Where(e => e.Kind == SegmentKind.Delta && SegmentCatalog.DeltaTime(e.Key) < settledBefore).ToList();
        if (deltas.Count == 0 || deltas.Count < minDeltas) return CompactionResult.Nothing;
        var shardCount = deltas[0].ShardCount;
        if (entries.Any(e => e.ShardCount != shardCount))
            throw new InvalidDataException($"segments of {modelVersion} disagree on the shard count ({string.Join(", ", entries.Select(e => e.ShardCount).Distinct())})");
        var sealedSegments = entries.Where(e => e.Kind == SegmentKind.Sealed).ToList();
        // Worst case every shard is touched: its old sealed rows go, one new row comes.
        var budget = SegmentCatalog.MaxTransactionActions - sealedSegments.Count - shardCount - 1; // 1: the first-seal row
        if (budget < 1)
            throw new InvalidOperationException($"{shardCount} shards with {sealedSegments.Count} sealed segments leave no room for deltas in one catalog transaction");
        var chosen = deltas.Take(budget).ToList();

        var loaded = await LoadAsync(modelVersion, chosen, null, cancellationToken);
        if (loaded is null) return new CompactionResult(0, 0, 0, Conflict: true);
        var format = loaded[0].Format;
        // Each delta item goes to its id's shard, kept in delta order.
        var byShard = new SortedDictionary<int, List<SegmentItem>>();
        foreach (var delta in loaded)
            for (var i = 0; i < delta.Count; i++)
            {
                var id = delta.Ids[i];
                var shard = ImageId.FromBlobName(id).Shard(shardCount);
                if (!byShard.TryGetValue(shard, out var list)) byShard[shard] = list = [];
                list.Add(new SegmentItem(delta, i, id));
            }
        var oldSealed = sealedSegments.Where(s => byShard.ContainsKey(s.Shard)).ToList();
        var oldLoaded = await LoadAsync(modelVersion, oldSealed, format, cancellationToken);
        if (oldLoaded is null) return new CompactionResult(0, 0, 0, Conflict: true);

        var oldByShard = oldSealed.Zip(oldLoaded).ToLookup(x => x.First.Shard, x => x.Second);
        var added = new List<SegmentEntry>();
        try
        {
            foreach (var (shard, deltaItems) in byShard)
            {
                var held = oldByShard[shard].SelectMany(IndexSegments.Items);
                await UploadSealedAsync(modelVersion, shard, shardCount, IndexSegments.MergeItems(format, modelVersion, held.Concat(deltaItems)), added, cancellationToken);
            }
        }
        catch
        {
            await DeleteAsync(added, CancellationToken.None); // no row lists them yet
            throw;
        }
        if (!await CommitAsync(modelVersion, [.. chosen, .. oldSealed], added, firstSeal: sealedSegments.Count == 0, cancellationToken))
        {
            logger.LogInformation("Compaction of {ModelVersion}: another compactor changed the catalog first; nothing changed", modelVersion);
            return new CompactionResult(0, 0, 0, Conflict: true);
        }
        await DeleteAsync([.. chosen, .. oldSealed], cancellationToken);
        var items = added.Sum(a => (long)a.Items);
        logger.LogInformation("Compaction of {ModelVersion}: {Deltas} deltas merged into {Shards} sealed shards ({Items} items); {Left} deltas left",
            modelVersion, chosen.Count, added.Count, items, deltas.Count - chosen.Count);
        return new CompactionResult(chosen.Count, added.Count, items, Conflict: false);
    }

    /// <summary>
    /// Seals the codes table's rows of <paramref name="modelVersion"/> into one segment per shard when its
    /// catalog is empty and has never been sealed: an index written before segment files existed becomes
    /// visible to the query side. Reads every row once (slow on Azurite at scale; once per version).
    /// Returns the items sealed (0: nothing to do, or another sealing came first).
    /// </summary>
    public async Task<long> SealTableRowsAsync(string modelVersion, int shardCount, CodeFormat format, CancellationToken cancellationToken = default)
    {
        // Only an index that no IndexWriter has added to yet (sealed rows, once listed, are never all
        // removed): afterwards its images are in deltas, and ones missed here are the reconciler's.
        if ((await _catalog.ListAsync(modelVersion, cancellationToken)).Count > 0) return 0;
        var rows = new List<IndexedImage>();
        await foreach (var row in new CodeTable(storage.Table(storage.Names.CodesTable)).ReadVersionAsync(modelVersion, cancellationToken))
            rows.Add(row);
        if (rows.Count == 0) return 0;
        var added = new List<SegmentEntry>();
        try
        {
            foreach (var shard in rows.GroupBy(r => r.Id.Shard(shardCount)).OrderBy(g => g.Key))
                await UploadSealedAsync(modelVersion, shard.Key, shardCount, IndexSegments.FromImages(format, modelVersion, shard), added, cancellationToken);
        }
        catch
        {
            await DeleteAsync(added, CancellationToken.None); // no row lists them yet
            throw;
        }
        if (!await CommitAsync(modelVersion, [], added, firstSeal: true, cancellationToken)) return 0;
        logger.LogInformation("Sealed {Rows} table rows of {ModelVersion} (written before segment files) into {Shards} shard segments", rows.Count, modelVersion, added.Count);
        return rows.Count;
    }

    /// <summary>Stores <paramref name="segment"/> as a new sealed file of <paramref name="shard"/>, adding its entry to <paramref name="added"/> first.</summary>
    private async Task UploadSealedAsync(string modelVersion, int shard, int shardCount, ShardSegment segment, List<SegmentEntry> added, CancellationToken cancellationToken)
    {
        var entry = new SegmentEntry(modelVersion, SegmentCatalog.NewSealedKey(shard, time), SegmentKind.Sealed, shard, shardCount, segment.Count, default);
        added.Add(entry);
        await _segments.UploadAsync(entry.BlobName, segment, cancellationToken);
    }

    /// <summary>
    /// Lists <paramref name="added"/> in place of <paramref name="removed"/>; false, with the new files
    /// deleted, when the catalog does not list them afterwards. A failed or conflicting transaction is
    /// checked against the catalog first: a retried request whose first try committed reports a conflict.
    /// </summary>
    private async Task<bool> CommitAsync(string modelVersion, IReadOnlyCollection<SegmentEntry> removed, IReadOnlyList<SegmentEntry> added,
        bool firstSeal, CancellationToken cancellationToken)
    {
        try
        {
            if (await _catalog.ReplaceAsync(modelVersion, removed, added, firstSeal, cancellationToken)) return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "The catalog transaction for {ModelVersion} failed; checking whether it committed", modelVersion);
        }
        if ((await _catalog.ListAsync(modelVersion, CancellationToken.None)).Any(e => e.Key == added[0].Key)) return true;
        await DeleteAsync(added, CancellationToken.None);
        return false;
    }

    /// <summary>Deletes segment files of <paramref name="modelVersion"/> that no catalog row lists and that are older than <paramref name="minAge"/>.</summary>
    public async Task<int> DeleteOrphansAsync(string modelVersion, TimeSpan minAge, CancellationToken cancellationToken = default)
    {
        // Files first, rows second: a file whose row is added meanwhile is then seen as listed.
        var files = new List<(string Name, DateTimeOffset Modified)>();
        await foreach (var file in _segments.ListAsync(modelVersion, cancellationToken)) files.Add(file);
        var listed = (await _catalog.ListAsync(modelVersion, cancellationToken)).Select(e => e.BlobName).ToHashSet(StringComparer.Ordinal);
        var cutoff = time.GetUtcNow() - minAge;
        var orphans = files.Where(f => !listed.Contains(f.Name) && f.Modified < cutoff).ToList();
        foreach (var orphan in orphans) await _segments.DeleteAsync(orphan.Name, cancellationToken);
        if (orphans.Count > 0) logger.LogInformation("Deleted {Count} unlisted segment files of {ModelVersion}", orphans.Count, modelVersion);
        return orphans.Count;
    }

    /// <summary>The segments of <paramref name="entries"/> in order; null if one is gone (another compaction replaced it).</summary>
    private async Task<ShardSegment[]?> LoadAsync(string modelVersion, IReadOnlyList<SegmentEntry> entries, CodeFormat? format, CancellationToken cancellationToken)
    {
        var segments = new ShardSegment?[entries.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, entries.Count), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (i, ct) => segments[i] = await _segments.ReadAsync(entries[i].BlobName, modelVersion, format, ct));
        if (segments.Any(s => s is null)) return null;
        var first = segments.Length > 0 ? segments[0]!.Format : default;
        if (segments.Any(s => s!.Format != first))
            throw new InvalidDataException($"segments of {modelVersion} disagree on the code format");
        return segments!;
    }

    private async Task DeleteAsync(IEnumerable<SegmentEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries) await _segments.DeleteAsync(entry.BlobName, cancellationToken);
    }
}
