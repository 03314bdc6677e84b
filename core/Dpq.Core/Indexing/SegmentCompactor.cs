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

    /// <summary>
    /// Pause between sweeps: unlisted files older than <see cref="OrphanAge"/> are deleted, and catalog rows
    /// whose file is gone are looked for (a blob listing and a catalog read); one found makes the worker rebuild the index from the codes table.
    /// </summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Pause between downloads of every listed file to check its checksum (a damaged one makes the worker rebuild the index).</summary>
    public TimeSpan VerifyInterval { get; init; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// What one compaction pass did. Conflict: another compactor changed the catalog first; nothing was changed.
/// LostFiles: listed files the pass could not load that are gone or fail their checksum; nothing was
/// changed, and <see cref="SegmentCompactor.RepairLostAsync"/> rebuilds the index from the codes table.
/// </summary>
public sealed record CompactionResult(int DeltasMerged, int ShardsRewritten, long Items, bool Conflict, int LostFiles = 0)
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
/// A listed file that is lost (deleted by hand, or failing its checksum) would block its deltas' merge
/// and make fresh query hosts answer 503: <see cref="RepairLostAsync"/> rebuilds the version's sealed
/// files from the codes table (the record by id, written before any segment file) and retires every
/// file listed before, the lost one included.
/// </summary>
public sealed class SegmentCompactor(StorageClients storage, TimeProvider time, ILogger<SegmentCompactor> logger)
{
    private readonly SegmentCatalog _catalog = new(storage.Table(storage.Names.ManifestsTable));
    private readonly SegmentStore _segments = new(storage.Container(storage.Names.SegmentsContainer));
    private readonly CodeTable _codes = new(storage.Table(storage.Names.CodesTable));

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

        var (loaded, failed) = await LoadAsync(modelVersion, chosen, null, cancellationToken);
        if (loaded is null) return await ReportFailedAsync(failed, cancellationToken);
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
        var (oldLoaded, oldFailed) = await LoadAsync(modelVersion, oldSealed, format, cancellationToken);
        if (oldLoaded is null) return await ReportFailedAsync(oldFailed, cancellationToken);

        var oldByShard = oldSealed.Zip(oldLoaded).ToLookup(x => x.First.Shard, x => x.Second);
        var added = await UploadSealedAsync(modelVersion, shardCount, byShard.Select(kv =>
            (kv.Key, IndexSegments.MergeItems(format, modelVersion, oldByShard[kv.Key].SelectMany(IndexSegments.Items).Concat(kv.Value)))), cancellationToken);
        // The first sealing adds seg-0; once every sealed row has been retired (lost files), later ones must not.
        var firstSeal = sealedSegments.Count == 0 && !await _catalog.HasFirstSealAsync(modelVersion, cancellationToken);
        if (!await CommitAsync(modelVersion, [.. chosen, .. oldSealed], added, firstSeal, cancellationToken))
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
        // Only an index that no IndexWriter has added to yet and that was never sealed (sealed rows can all
        // be retired as lost, but seg-0 stays): afterwards its images are in deltas, and ones missed here
        // are the reconciler's.
        if ((await _catalog.ListAsync(modelVersion, cancellationToken)).Count > 0 || await _catalog.HasFirstSealAsync(modelVersion, cancellationToken)) return 0;
        var rows = await ReadRowsAsync(modelVersion, cancellationToken);
        if (rows.Count == 0) return 0;
        var added = await UploadSealedRowsAsync(modelVersion, format, shardCount, rows, cancellationToken);
        if (!await CommitAsync(modelVersion, [], added, firstSeal: true, cancellationToken)) return 0;
        logger.LogInformation("Sealed {Rows} table rows of {ModelVersion} (written before segment files) into {Shards} shard segments", rows.Count, modelVersion, added.Count);
        return rows.Count;
    }

    /// <summary>Every codes table row of <paramref name="modelVersion"/>, in one query.</summary>
    private Task<List<IndexedImage>> ReadRowsAsync(string modelVersion, CancellationToken cancellationToken) =>
        _codes.ReadVersionAsync(modelVersion, cancellationToken).ToListAsync(cancellationToken).AsTask();

    /// <summary>One new sealed file per shard from <paramref name="rows"/> (a table row holds an image's newest code).</summary>
    private Task<List<SegmentEntry>> UploadSealedRowsAsync(string modelVersion, CodeFormat format, int shardCount, List<IndexedImage> rows, CancellationToken cancellationToken) =>
        UploadSealedAsync(modelVersion, shardCount, rows.GroupBy(r => r.Id.Shard(shardCount)).OrderBy(g => g.Key)
            .Select(g => (g.Key, IndexSegments.FromImages(format, modelVersion, g))), cancellationToken);

    /// <summary>
    /// Stores each (shard, segment) as a new sealed file, building each segment only when its turn comes, and
    /// returns their entries; on failure deletes what it stored (no row lists them yet) and rethrows.
    /// </summary>
    private async Task<List<SegmentEntry>> UploadSealedAsync(string modelVersion, int shardCount, IEnumerable<(int Shard, ShardSegment Segment)> segments,
        CancellationToken cancellationToken)
    {
        var added = new List<SegmentEntry>();
        try
        {
            foreach (var (shard, segment) in segments)
            {
                var entry = new SegmentEntry(modelVersion, SegmentCatalog.NewSealedKey(shard, time), SegmentKind.Sealed, shard, shardCount, segment.Count, default);
                added.Add(entry);
                await _segments.UploadAsync(entry.BlobName, segment, cancellationToken);
            }
        }
        catch
        {
            await DeleteAsync(added, CancellationToken.None);
            throw;
        }
        return added;
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

    /// <summary>
    /// Finds listed files of <paramref name="modelVersion"/> that are lost (gone, or, with
    /// <paramref name="verifyContents"/>, failing their checksum: every listed file is downloaded, one at a
    /// time, and dropped) and, if there are any, rebuilds the index from the codes table
    /// (<see cref="RebuildFromTableAsync"/>). Returns the lost files repaired (0 also when the rebuild
    /// lost a race and changed nothing). The catalog is read before the files are checked and again
    /// after: a file is deleted only after its row is removed, so a file that is gone while its row is
    /// still listed afterwards is lost, not compacted away. Files that cannot be checked for another
    /// reason are skipped until the next call.
    /// </summary>
    public async Task<int> RepairLostAsync(string modelVersion, CodeFormat format, bool verifyContents, CancellationToken cancellationToken = default)
    {
        var entries = await _catalog.ListAsync(modelVersion, cancellationToken);
        var files = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var file in _segments.ListAsync(modelVersion, cancellationToken)) files.Add(file.BlobName);
        var suspects = verifyContents ? entries : [.. entries.Where(e => !files.Contains(e.BlobName))];
        var lost = new List<SegmentEntry>();
        foreach (var entry in suspects)
        {
            try
            {
                if (await _segments.IsIntactAsync(entry.BlobName, cancellationToken) is not true) lost.Add(entry);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not check segment file {BlobName}; the next sweep tries again", entry.BlobName);
            }
        }
        if (lost.Count == 0) return 0;
        var stillListed = (await _catalog.ListAsync(modelVersion, cancellationToken)).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        lost.RemoveAll(e => !stillListed.Contains(e.Key));
        if (lost.Count == 0) return 0;
        logger.LogError("Segment files of {ModelVersion} are lost (gone or failing their checksum): {Files}; rebuilding the index from the codes table",
            modelVersion, string.Join(", ", lost.Select(e => e.BlobName)));
        return await RebuildFromTableAsync(modelVersion, format, lost[0].ShardCount, cancellationToken) >= 0 ? lost.Count : 0;
    }

    /// <summary>
    /// Replaces every listed file of <paramref name="modelVersion"/> with sealed files built from its codes
    /// table rows, which hold each image's newest code (rows are written before their delta file). The new
    /// files and the removal of the old sealed rows commit in one transaction, with as many of the old
    /// deltas as fit, oldest first. The old deltas left are removed after it, oldest first, each batch in a
    /// transaction that also finds the new sealed rows unchanged; at the first failure (another compactor
    /// merged some of them meanwhile) the rest stay listed for compaction to merge in order. So no code
    /// ever shows older than it did before. Deltas listed after the catalog read stay: they are newer.
    /// Refuses, changing nothing, when the table holds fewer rows than the sealed files list items (a
    /// wrong or emptied table must not empty the index). Returns the images sealed, or -1 when another
    /// compactor changed the catalog first (nothing changed). Reads the version's whole table: a repair,
    /// not a routine.
    /// </summary>
    public async Task<long> RebuildFromTableAsync(string modelVersion, CodeFormat format, int shardCount, CancellationToken cancellationToken = default)
    {
        var entries = await _catalog.ListAsync(modelVersion, cancellationToken); // before the rows: every delta it lists has its rows written
        var oldSealed = entries.Where(e => e.Kind == SegmentKind.Sealed).ToList();
        var oldDeltas = entries.Where(e => e.Kind == SegmentKind.Delta).ToList(); // oldest first
        if (oldSealed.Count + shardCount + 1 > SegmentCatalog.MaxTransactionActions)
            throw new InvalidOperationException($"{shardCount} new and {oldSealed.Count} old sealed files do not fit one catalog transaction");
        var rows = await ReadRowsAsync(modelVersion, cancellationToken);
        var sealedItems = oldSealed.Sum(e => (long)e.Items);
        if (rows.Count < sealedItems)
            throw new InvalidDataException($"the codes table holds {rows.Count} rows of {modelVersion}, fewer than the {sealedItems} items its sealed files list: not rebuilding from it");
        var firstSeal = !await _catalog.HasFirstSealAsync(modelVersion, cancellationToken);
        var added = await UploadSealedRowsAsync(modelVersion, format, shardCount, rows, cancellationToken);
        var withFirst = oldDeltas.Take(SegmentCatalog.MaxTransactionActions - added.Count - oldSealed.Count - 1).ToList();
        var removed = new List<SegmentEntry>([.. oldSealed, .. withFirst]);
        if (added.Count == 0)
        {
            // No rows and no sealed items: nothing to seal; the listed files go.
            if (!await _catalog.ReplaceAsync(modelVersion, removed, [], firstSeal: false, cancellationToken)) return -1;
        }
        else if (!await CommitAsync(modelVersion, removed, added, firstSeal, cancellationToken))
        {
            return -1;
        }
        var left = oldDeltas.Skip(withFirst.Count).ToList();
        while (left.Count > 0)
        {
            // The new sealed rows, found unchanged in the same transaction, show that no compaction merged
            // any old delta into them since; deltas are merged oldest first, so the batch is all still there.
            var current = (await _catalog.ListAsync(modelVersion, cancellationToken)).ToDictionary(e => e.Key, StringComparer.Ordinal);
            var guards = added.Select(a => current.GetValueOrDefault(a.Key)).ToList();
            var batch = left.Take(SegmentCatalog.MaxTransactionActions - added.Count).ToList();
            if (guards.Any(g => g is null) || batch.Any(e => !current.ContainsKey(e.Key))
                || !await _catalog.RemoveWhileUnchangedAsync(modelVersion, batch, guards!, cancellationToken))
            {
                logger.LogWarning("Rebuild of {ModelVersion}: {Left} old deltas stay listed (a compaction changed the catalog); compaction merges them in order", modelVersion, left.Count);
                break;
            }
            removed.AddRange(batch);
            left = left.Skip(batch.Count).ToList();
        }
        await DeleteAsync(removed, cancellationToken); // only files whose rows this rebuild removed
        logger.LogWarning("Rebuilt the index of {ModelVersion} from {Rows} code rows into {Shards} sealed files, replacing {Sealed} sealed files and {Deltas} of {OldDeltas} deltas",
            modelVersion, rows.Count, added.Count, oldSealed.Count, removed.Count - oldSealed.Count, oldDeltas.Count);
        return rows.Count;
    }

    /// <summary>
    /// Rewrites each sealed file of an older segment file version (<see cref="ShardSegmentFormat"/>) in the
    /// current one, one shard at a time: load, store the same items as a new sealed file, swap the catalog
    /// rows (ETag-checked), delete the old file. A file a compaction replaced meanwhile is left to it (its new
    /// file is current); lost files are the repair's. Items keep what they had: a version 1 file has no
    /// copy codes, so its items have none until they are encoded again. Returns the files rewritten.
    /// </summary>
    public async Task<int> UpgradeSealedAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var entries = await _catalog.ListAsync(modelVersion, cancellationToken);
        int upgraded = 0;
        foreach (var entry in entries.Where(e => e.Kind == SegmentKind.Sealed))
        {
            // The version from the file's first bytes: only older files are downloaded whole.
            if (await _segments.ReadFormatVersionAsync(entry.BlobName, cancellationToken) is not { } fileVersion
                || fileVersion >= ShardSegmentFormat.CurrentVersion) continue;
            var (loaded, _) = await LoadAsync(modelVersion, [entry], format, cancellationToken);
            if (loaded is null) continue; // gone or unreadable: lost files are the repair's
            var added = await UploadSealedAsync(modelVersion, entry.ShardCount, [(entry.Shard, IndexSegments.Merge(format, modelVersion, loaded))], cancellationToken);
            if (!await CommitAsync(modelVersion, [entry], added, firstSeal: false, cancellationToken)) continue;
            await DeleteAsync([entry], cancellationToken);
            upgraded++;
        }
        if (upgraded > 0)
            logger.LogInformation("Rewrote {Files} sealed files of {ModelVersion} in segment format version {Version}", upgraded, modelVersion, ShardSegmentFormat.CurrentVersion);
        return upgraded;
    }

    /// <summary>
    /// A pass could not load <paramref name="failed"/>. Each is checked once more: one that is whole but
    /// unreadable (a newer format version, another model or code format) is not damage, and the pass fails
    /// with its error; otherwise the pass reports the lost files (gone ones may also be a racing compaction's
    /// work, which <see cref="RepairLostAsync"/> tells apart by reading the catalog again) and changes nothing.
    /// </summary>
    private async Task<CompactionResult> ReportFailedAsync(IReadOnlyList<(SegmentEntry Entry, string Why)> failed, CancellationToken cancellationToken)
    {
        foreach (var (entry, why) in failed)
        {
            if (await _segments.IsIntactAsync(entry.BlobName, cancellationToken) == true)
                throw new InvalidDataException($"segment file {entry.BlobName} is whole but cannot be merged: {why}");
        }
        return new CompactionResult(0, 0, 0, Conflict: false, LostFiles: failed.Count);
    }

    /// <summary>
    /// The segments of <paramref name="entries"/> in order, or null and the entries that could not be
    /// read: gone (another compaction replaced it, or it is lost) or unreadable (the reader's message).
    /// </summary>
    private async Task<(ShardSegment[]? Segments, List<(SegmentEntry Entry, string Why)> Failed)> LoadAsync(string modelVersion,
        IReadOnlyList<SegmentEntry> entries, CodeFormat? format, CancellationToken cancellationToken)
    {
        var segments = new ShardSegment?[entries.Count];
        var why = new string?[entries.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, entries.Count), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                try
                {
                    segments[i] = await _segments.ReadAsync(entries[i].BlobName, modelVersion, format, ct);
                    if (segments[i] is null) why[i] = "the file is gone";
                }
                catch (InvalidDataException e)
                {
                    why[i] = e.Message;
                }
            });
        var failed = entries.Select((e, i) => (e, why[i])).Where(x => x.Item2 is not null).Select(x => (x.e, x.Item2!)).ToList();
        if (failed.Count > 0) return (null, failed);
        var first = segments.Length > 0 ? segments[0]!.Format : default;
        if (segments.Any(s => s!.Format != first))
            throw new InvalidDataException($"segments of {modelVersion} disagree on the code format");
        return ([.. segments.Select(s => s!)], failed);
    }

    private async Task DeleteAsync(IEnumerable<SegmentEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries) await _segments.DeleteAsync(entry.BlobName, cancellationToken);
    }
}
