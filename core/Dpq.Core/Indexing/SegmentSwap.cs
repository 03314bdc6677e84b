using Dpq.Formats;
using Microsoft.Extensions.Logging;

namespace Dpq.Indexing;

/// <summary>
/// The steps every job that rewrites an index shares: load listed segments, store new sealed files,
/// swap catalog rows for them in one ETag-checked transaction, delete the files the swap retired. New
/// files are named anew and listed only by a committed swap, so a failed job leaves unlisted files for
/// <see cref="OrphanSweeper"/> at worst, never a changed index.
/// </summary>
public sealed class SegmentSwap(TimeProvider time, ILogger<SegmentSwap> logger)
{
    /// <summary>
    /// The segments of <paramref name="entries"/> in order, or null and the entries that could not be
    /// read: gone (another compaction replaced it, or it is lost) or unreadable (the reader's message).
    /// </summary>
    public async Task<(ShardSegment[]? Segments, List<(SegmentEntry Entry, string Why)> Failed)> LoadAsync(VersionIndex index,
        IReadOnlyList<SegmentEntry> entries, CodeFormat? format, CancellationToken cancellationToken)
    {
        var segments = new ShardSegment?[entries.Count];
        var why = new string?[entries.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, entries.Count), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                try
                {
                    segments[i] = await index.Files.ReadAsync(entries[i].BlobName, format, ct);
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
            throw new InvalidDataException($"segments of {index.ModelVersion} disagree on the code format");
        return ([.. segments.Select(s => s!)], failed);
    }

    /// <summary>One new sealed file per shard from <paramref name="rows"/> (a table row holds an image's newest code).</summary>
    public Task<List<SegmentEntry>> UploadSealedRowsAsync(VersionIndex index, CodeFormat format, List<IndexedImage> rows, CancellationToken cancellationToken) =>
        UploadSealedAsync(index, rows.GroupBy(r => r.Id.Shard(index.ShardCount)).OrderBy(g => g.Key)
            .Select(g => (g.Key, IndexSegments.FromImages(format, index.ModelVersion, g))), cancellationToken);

    /// <summary>
    /// Stores each (shard, segment) as a new sealed file, building each segment only when its turn comes, and
    /// returns their entries; on failure deletes what it stored (no row lists them yet) and rethrows.
    /// </summary>
    public async Task<List<SegmentEntry>> UploadSealedAsync(VersionIndex index, IEnumerable<(int Shard, ShardSegment Segment)> segments,
        CancellationToken cancellationToken)
    {
        var added = new List<SegmentEntry>();
        try
        {
            foreach (var (shard, segment) in segments)
            {
                var entry = new SegmentEntry(index.ModelVersion, SegmentCatalog.NewSealedKey(shard, time), SegmentKind.Sealed, shard, index.ShardCount, segment.Count, default);
                added.Add(entry);
                await index.Files.UploadAsync(entry.BlobName, segment, cancellationToken);
            }
        }
        catch
        {
            await DeleteFilesAsync(index, added, CancellationToken.None);
            throw;
        }
        return added;
    }

    /// <summary>
    /// Lists <paramref name="added"/> in place of <paramref name="removed"/>; false, with the new files
    /// deleted, when the catalog does not list them afterwards. A failed or conflicting transaction is
    /// checked against the catalog first: a retried request whose first try committed reports a conflict.
    /// </summary>
    public async Task<bool> CommitAsync(VersionIndex index, IReadOnlyCollection<SegmentEntry> removed, IReadOnlyList<SegmentEntry> added,
        bool firstSeal, CancellationToken cancellationToken)
    {
        try
        {
            if (await index.Catalog.ReplaceAsync(removed, added, firstSeal, cancellationToken)) return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "The catalog transaction for {ModelVersion} failed; checking whether it committed", index.ModelVersion);
        }
        if ((await index.Catalog.ListAsync(CancellationToken.None)).Any(e => e.Key == added[0].Key)) return true;
        await DeleteFilesAsync(index, added, CancellationToken.None);
        return false;
    }

    /// <summary>
    /// A pass could not load <paramref name="failed"/>. Each is checked once more: one that is whole but
    /// unreadable (a newer format version, another model or code format) is not damage, and the pass fails
    /// with its error; otherwise the pass reports the lost files (gone ones may also be a racing compaction's
    /// work, which <see cref="IndexRepair.RepairLostAsync"/> tells apart by reading the catalog again) and changes nothing.
    /// </summary>
    public async Task<CompactionResult> ReportFailedAsync(VersionIndex index, IReadOnlyList<(SegmentEntry Entry, string Why)> failed, CancellationToken cancellationToken)
    {
        foreach (var (entry, why) in failed)
        {
            if (await index.Files.IsIntactAsync(entry.BlobName, cancellationToken) == true)
                throw new InvalidDataException($"segment file {entry.BlobName} is whole but cannot be merged: {why}");
        }
        return new CompactionResult(0, 0, 0, Conflict: false, LostFiles: failed.Count);
    }

    public async Task DeleteFilesAsync(VersionIndex index, IEnumerable<SegmentEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries) await index.Files.DeleteAsync(entry.BlobName, cancellationToken);
    }

    /// <summary>
    /// Files a committed swap replaced: not deleted now, since a query host may have listed them just before; they
    /// are marked retired and the orphan sweep deletes them an orphan age later (<see cref="SegmentStore.RetireAsync"/>).
    /// </summary>
    public async Task RetireFilesAsync(VersionIndex index, IEnumerable<SegmentEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries) await index.Files.RetireAsync(entry.BlobName, time.GetUtcNow(), cancellationToken);
    }
}
