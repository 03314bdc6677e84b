using Dpq.Formats;
using Microsoft.Extensions.Logging;

namespace Dpq.Indexing;

/// <summary>
/// What one compaction pass did. Conflict: another compactor changed the catalog first; nothing was changed.
/// LostFiles: listed files the pass could not load that are gone or fail their checksum; nothing was
/// changed, and <see cref="IndexRepair.RepairLostAsync"/> rebuilds the index from the codes table.
/// </summary>
public sealed record CompactionResult(int DeltasMerged, int ShardsRewritten, long Items, bool Conflict, int LostFiles = 0)
{
    public static CompactionResult Nothing { get; } = new(0, 0, 0, false);
}

/// <summary>
/// Seals deltas into per-shard segments: loads the oldest deltas (as many as one catalog transaction
/// can retire), merges each touched shard's sealed segment with their items and removals for that
/// shard (an id's last event wins, the order the query side reads them in; a sealed segment is the
/// base layer, so it keeps no removals), stores the new sealed files, then
/// swaps catalog rows in one transaction and deletes the replaced files. The index a query sees is
/// the same before and after. Two compactors racing: the second transaction fails on the ETags and
/// its new files are deleted. A listed file that is lost makes a pass change nothing and report it,
/// for <see cref="IndexRepair"/>.
/// </summary>
public sealed class DeltaCompactor(SegmentSwap swap, ILogger<DeltaCompactor> logger, TimeProvider time)
{
    /// <summary>Twice <see cref="IndexWriter.MaxKeyAge"/>: room for that and for writers' clocks differing by up to as much.</summary>
    public static readonly TimeSpan DefaultSettle = 2 * IndexWriter.MaxKeyAge;

    /// <summary>
    /// One pass over the version's catalog; does nothing below <paramref name="minDeltas"/> deltas. Only
    /// deltas keyed more than <paramref name="settle"/> ago are merged: a delta listed later must sort after
    /// every merged one (its writer re-keys it if its row would be added more than
    /// <see cref="IndexWriter.MaxKeyAge"/> after its key), or it would override newer sealed codes.
    /// </summary>
    public async Task<CompactionResult> CompactOnceAsync(VersionIndex index, int minDeltas = 1, TimeSpan? settle = null, CancellationToken cancellationToken = default)
    {
        var modelVersion = index.ModelVersion;
        var shardCount = index.ShardCount;
        var entries = await index.Catalog.ListAsync(cancellationToken);
        var settledBefore = time.GetUtcNow() - (settle ?? DefaultSettle);
        var deltas = entries.Where(e => e.Kind == SegmentKind.Delta && SegmentCatalog.DeltaTime(e.Key) < settledBefore).ToList();
        if (deltas.Count == 0 || deltas.Count < minDeltas) return CompactionResult.Nothing;
        if (entries.Any(e => e.ShardCount != shardCount))
            throw new InvalidDataException($"segments of {modelVersion} disagree with its {shardCount} shards ({string.Join(", ", entries.Select(e => e.ShardCount).Distinct())})");
        var sealedSegments = entries.Where(e => e.Kind == SegmentKind.Sealed).ToList();
        // Worst case every shard is touched: its old sealed rows go, one new row comes.
        var budget = SegmentCatalog.MaxTransactionActions - sealedSegments.Count - shardCount - 1; // 1: the first-seal row
        if (budget < 1)
            throw new InvalidOperationException($"{shardCount} shards with {sealedSegments.Count} sealed segments leave no room for deltas in one catalog transaction");
        var chosen = deltas.Take(budget).ToList();

        var (loaded, failed) = await swap.LoadAsync(index, chosen, null, cancellationToken);
        if (loaded is null) return await swap.ReportFailedAsync(index, failed, cancellationToken);
        var format = loaded[0].Format;
        // Each delta's items and removals go to their id's shard, kept in delta order.
        var byShard = new SortedDictionary<int, List<SegmentEvent>>();
        foreach (var delta in loaded)
            foreach (var e in IndexSegments.Events(delta))
            {
                var shard = index.ShardOf(e.Id);
                if (!byShard.TryGetValue(shard, out var list)) byShard[shard] = list = [];
                list.Add(e);
            }
        var oldSealed = sealedSegments.Where(s => byShard.ContainsKey(s.Shard)).ToList();
        var (oldLoaded, oldFailed) = await swap.LoadAsync(index, oldSealed, format, cancellationToken);
        if (oldLoaded is null) return await swap.ReportFailedAsync(index, oldFailed, cancellationToken);

        var oldByShard = oldSealed.Zip(oldLoaded).ToLookup(x => x.First.Shard, x => x.Second);
        var added = await swap.UploadSealedAsync(index, byShard.Select(kv =>
            (kv.Key, IndexSegments.MergeItems(format, modelVersion, oldByShard[kv.Key].SelectMany(IndexSegments.Events).Concat(kv.Value), keepRemovals: false))), cancellationToken);
        // The first sealing adds seg-0; once every sealed row has been retired (lost files), later ones must not.
        var firstSeal = sealedSegments.Count == 0 && !await index.Catalog.HasFirstSealAsync(cancellationToken);
        if (!await swap.CommitAsync(index, [.. chosen, .. oldSealed], added, firstSeal, cancellationToken))
        {
            logger.LogInformation("Compaction of {ModelVersion}: another compactor changed the catalog first; nothing changed", modelVersion);
            return new CompactionResult(0, 0, 0, Conflict: true);
        }
        await swap.RetireFilesAsync(index, [.. chosen, .. oldSealed], cancellationToken);
        var items = added.Sum(a => (long)a.Items);
        logger.LogInformation("Compaction of {ModelVersion}: {Deltas} deltas merged into {Shards} sealed shards ({Items} items); {Left} deltas left",
            modelVersion, chosen.Count, added.Count, items, deltas.Count - chosen.Count);
        return new CompactionResult(chosen.Count, added.Count, items, Conflict: false);
    }

    /// <summary>
    /// Rewrites each sealed file of an older segment file version (<see cref="ShardSegmentFormat"/>) in the
    /// current one, one shard at a time: load, store the same items as a new sealed file, swap the catalog
    /// rows (ETag-checked), delete the old file. A file a compaction replaced meanwhile is left to it (its new
    /// file is current); lost files are the repair's. Items keep what they had: a version 1 file has no
    /// copy codes, so its items have none until they are encoded again. Returns the files rewritten.
    /// </summary>
    public async Task<int> UpgradeSealedAsync(VersionIndex index, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var entries = await index.Catalog.ListAsync(cancellationToken);
        int upgraded = 0;
        foreach (var entry in entries.Where(e => e.Kind == SegmentKind.Sealed))
        {
            // The version from the file's first bytes: only older files are downloaded whole.
            if (await index.Files.ReadFormatVersionAsync(entry.BlobName, cancellationToken) is not { } fileVersion
                || fileVersion >= ShardSegmentFormat.CurrentVersion) continue;
            var (loaded, _) = await swap.LoadAsync(index, [entry], format, cancellationToken);
            if (loaded is null) continue; // gone or unreadable: lost files are the repair's
            var added = await swap.UploadSealedAsync(index, [(entry.Shard, IndexSegments.Merge(format, index.ModelVersion, loaded))], cancellationToken);
            if (!await swap.CommitAsync(index, [entry], added, firstSeal: false, cancellationToken)) continue;
            await swap.RetireFilesAsync(index, [entry], cancellationToken);
            upgraded++;
        }
        if (upgraded > 0)
            logger.LogInformation("Rewrote {Files} sealed files of {ModelVersion} in segment format version {Version}", upgraded, index.ModelVersion, ShardSegmentFormat.CurrentVersion);
        return upgraded;
    }
}
