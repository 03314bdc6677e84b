using Dpq.Formats;
using Microsoft.Extensions.Logging;

namespace Dpq.Indexing;

/// <summary>
/// Rebuilds a version's segment files from its code rows, the record by id that is written before any
/// segment file: when a listed file is lost (deleted by hand, or failing its checksum), which would block
/// its deltas' merge and make fresh query hosts answer 503, and once for rows written before segment
/// files existed.
/// </summary>
public sealed class IndexRepair(SegmentSwap swap, ILogger<IndexRepair> logger)
{
    /// <summary>
    /// Seals the version's code rows into one segment per shard when its catalog is empty and has never been
    /// sealed: an index written before segment files existed becomes visible to the query side. Reads every
    /// row once (slow on Azurite at scale; once per version). Returns the items sealed (0: nothing to do, or
    /// another sealing came first).
    /// </summary>
    public async Task<long> SealTableRowsAsync(VersionIndex index, CodeFormat format, CancellationToken cancellationToken = default)
    {
        // Only an index that no IndexWriter has added to yet and that was never sealed (sealed rows can all
        // be retired as lost, but seg-0 stays): afterwards its images are in deltas, and ones missed here
        // are the reconciler's.
        if ((await index.Catalog.ListAsync(cancellationToken)).Count > 0 || await index.Catalog.HasFirstSealAsync(cancellationToken)) return 0;
        var rows = await ReadRowsAsync(index, cancellationToken);
        if (rows.Count == 0) return 0;
        var added = await swap.UploadSealedRowsAsync(index, format, rows, cancellationToken);
        if (!await swap.CommitAsync(index, [], added, firstSeal: true, cancellationToken)) return 0;
        logger.LogInformation("Sealed {Rows} table rows of {ModelVersion} (written before segment files) into {Shards} shard segments", rows.Count, index.ModelVersion, added.Count);
        return rows.Count;
    }

    /// <summary>
    /// Finds listed files that are lost (gone, or, with <paramref name="verifyContents"/>, failing their
    /// checksum: every listed file is downloaded, one at a time, and dropped) and, if there are any, rebuilds
    /// the index from the code rows (<see cref="RebuildFromTableAsync"/>). Returns the lost files repaired (0
    /// also when the rebuild lost a race and changed nothing). The catalog is read before the files are
    /// checked and again after: a file is deleted only after its row is removed, so a file that is gone while
    /// its row is still listed afterwards is lost, not compacted away. Files that cannot be checked for
    /// another reason are skipped until the next call.
    /// </summary>
    public async Task<int> RepairLostAsync(VersionIndex index, CodeFormat format, bool verifyContents, CancellationToken cancellationToken = default)
    {
        var entries = await index.Catalog.ListAsync(cancellationToken);
        var files = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var file in index.Files.ListAsync(cancellationToken)) files.Add(file.BlobName);
        var suspects = verifyContents ? entries : [.. entries.Where(e => !files.Contains(e.BlobName))];
        var lost = new List<SegmentEntry>();
        foreach (var entry in suspects)
        {
            try
            {
                if (await index.Files.IsIntactAsync(entry.BlobName, cancellationToken) is not true) lost.Add(entry);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Could not check segment file {BlobName}; the next sweep tries again", entry.BlobName);
            }
        }
        if (lost.Count == 0) return 0;
        var stillListed = (await index.Catalog.ListAsync(cancellationToken)).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        lost.RemoveAll(e => !stillListed.Contains(e.Key));
        if (lost.Count == 0) return 0;
        logger.LogError("Segment files of {ModelVersion} are lost (gone or failing their checksum): {Files}; rebuilding the index from the codes table",
            index.ModelVersion, string.Join(", ", lost.Select(e => e.BlobName)));
        return await RebuildFromTableAsync(index, format, cancellationToken) >= 0 ? lost.Count : 0;
    }

    /// <summary>
    /// Replaces every listed file with sealed files built from the version's code rows, which hold each
    /// image's newest code (rows are written before their delta file). The new files and the removal of the
    /// old sealed rows commit in one transaction, with as many of the old deltas as fit, oldest first. The old
    /// deltas left are removed after it, oldest first, each batch in a transaction that also finds the new
    /// sealed rows unchanged; at the first failure (another compactor merged some of them meanwhile) the rest
    /// stay listed for compaction to merge in order. So no code ever shows older than it did before. Deltas
    /// listed after the catalog read stay: they are newer. Refuses, changing nothing, when the table holds
    /// fewer rows than the sealed files list items less the removals listed since (a wrong or emptied table must not empty the index).
    /// Returns the images sealed, or -1 when another compactor changed the catalog first (nothing changed).
    /// Reads the version's whole table: a repair, not a routine.
    /// </summary>
    public async Task<long> RebuildFromTableAsync(VersionIndex index, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var modelVersion = index.ModelVersion;
        var entries = await index.Catalog.ListAsync(cancellationToken); // before the rows: every delta it lists has its rows written
        var oldSealed = entries.Where(e => e.Kind == SegmentKind.Sealed).ToList();
        var oldDeltas = entries.Where(e => e.Kind == SegmentKind.Delta).ToList(); // oldest first
        if (oldSealed.Count + index.ShardCount + 1 > SegmentCatalog.MaxTransactionActions)
            throw new InvalidOperationException($"{index.ShardCount} new and {oldSealed.Count} old sealed files do not fit one catalog transaction");
        var rows = await ReadRowsAsync(index, cancellationToken);
        // Removals listed in deltas since account for rows deleted after their images were sealed.
        var sealedItems = oldSealed.Sum(e => (long)e.Items) - oldDeltas.Sum(e => (long)e.Removed);
        if (rows.Count < sealedItems)
            throw new InvalidDataException($"the codes table holds {rows.Count} rows of {modelVersion}, fewer than the {sealedItems} items its sealed files list: not rebuilding from it");
        var firstSeal = !await index.Catalog.HasFirstSealAsync(cancellationToken);
        var added = await swap.UploadSealedRowsAsync(index, format, rows, cancellationToken);
        var withFirst = oldDeltas.Take(SegmentCatalog.MaxTransactionActions - added.Count - oldSealed.Count - 1).ToList();
        var removed = new List<SegmentEntry>([.. oldSealed, .. withFirst]);
        if (added.Count == 0)
        {
            // No rows and no sealed items: nothing to seal; the listed files go.
            if (!await index.Catalog.ReplaceAsync(removed, [], firstSeal: false, cancellationToken)) return -1;
        }
        else if (!await swap.CommitAsync(index, removed, added, firstSeal, cancellationToken))
        {
            return -1;
        }
        var left = oldDeltas.Skip(withFirst.Count).ToList();
        while (left.Count > 0)
        {
            // The new sealed rows, found unchanged in the same transaction, show that no compaction merged
            // any old delta into them since; deltas are merged oldest first, so the batch is all still there.
            var current = (await index.Catalog.ListAsync(cancellationToken)).ToDictionary(e => e.Key, StringComparer.Ordinal);
            var guards = added.Select(a => current.GetValueOrDefault(a.Key)).ToList();
            var batch = left.Take(SegmentCatalog.MaxTransactionActions - added.Count).ToList();
            if (guards.Any(g => g is null) || batch.Any(e => !current.ContainsKey(e.Key))
                || !await index.Catalog.RemoveWhileUnchangedAsync(batch, guards!, cancellationToken))
            {
                logger.LogWarning("Rebuild of {ModelVersion}: {Left} old deltas stay listed (a compaction changed the catalog); compaction merges them in order", modelVersion, left.Count);
                break;
            }
            removed.AddRange(batch);
            left = left.Skip(batch.Count).ToList();
        }
        await swap.RetireFilesAsync(index, removed, cancellationToken); // only files whose rows this rebuild removed
        logger.LogWarning("Rebuilt the index of {ModelVersion} from {Rows} code rows into {Shards} sealed files, replacing {Sealed} sealed files and {Deltas} of {OldDeltas} deltas",
            modelVersion, rows.Count, added.Count, oldSealed.Count, removed.Count - oldSealed.Count, oldDeltas.Count);
        return rows.Count;
    }

    private static Task<List<IndexedImage>> ReadRowsAsync(VersionIndex index, CancellationToken cancellationToken) =>
        index.Rows.ReadAllAsync(cancellationToken).ToListAsync(cancellationToken).AsTask();
}
