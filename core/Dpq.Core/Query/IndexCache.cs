using System.Collections.Immutable;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Scan;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Query;

/// <summary>The index cannot be loaded (a listed segment file is missing or unreadable); answered with 503.</summary>
public sealed class IndexUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The query side's copy of a model version's index: the segment files the catalog lists, held in
/// memory. At most every RefreshInterval it re-reads the catalog (one small query) and downloads only
/// segments it does not hold; nothing reads the codes table. Sealed segments are used as stored; the
/// deltas are merged into one tail segment, and sealed items whose id the tail holds are hidden, so
/// every id is found once, with its newest code. A file compacted away between the catalog read and
/// its download makes the refresh start over. Versions never mix: a new version starts empty. A due
/// refresh of the held version runs in the background while queries keep the held index
/// (<see cref="QueryOptions.IndexRefreshInBackground"/>); a first load or a new version is waited for.
/// </summary>
public sealed class IndexCache(StorageClients storage, QueryOptions options, TimeProvider time, ILogger<IndexCache> logger)
{
    private const int Attempts = 3;

    private readonly SegmentCatalog _catalog = new(storage.Table(storage.Names.ManifestsTable));
    private readonly SegmentStore _files = new(storage.Container(storage.Names.SegmentsContainer));
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, ShardSegment> _held = new(StringComparer.Ordinal); // by catalog key
    private IndexSnapshot? _snapshot;
    private int _refreshing; // 1 while a background refresh runs

    public async Task<IndexSnapshot> GetAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (IsFresh(snapshot, modelVersion)) return snapshot!;
        if (options.IndexRefreshInBackground && snapshot?.ModelVersion == modelVersion)
        {
            if (Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0)
                _ = Task.Run(() => RefreshInBackgroundAsync(modelVersion, format), CancellationToken.None);
            return snapshot;
        }
        return await RefreshAsync(modelVersion, format, cancellationToken);
    }

    /// <summary>Completes when no background refresh is running (tests).</summary>
    internal async Task WaitForBackgroundRefreshAsync()
    {
        while (Volatile.Read(ref _refreshing) != 0) await Task.Delay(10);
    }

    private async Task RefreshInBackgroundAsync(string modelVersion, CodeFormat format)
    {
        try
        {
            await RefreshAsync(modelVersion, format, CancellationToken.None);
        }
        catch (Exception e)
        {
            // RefreshAsync keeps a loaded index of this version on failure; this is what is left.
            logger.LogError(e, "Background refresh of the index of {ModelVersion} failed", modelVersion);
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    /// <summary>Refreshes under the gate unless another caller just did; on failure keeps a loaded index of the same version.</summary>
    private async Task<IndexSnapshot> RefreshAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (IsFresh(_snapshot, modelVersion)) return _snapshot!;
            if (_snapshot?.ModelVersion != modelVersion) _held.Clear(); // never mix versions
            var checkedAt = time.GetUtcNow();
            IndexSnapshot fresh;
            try
            {
                fresh = await LoadAsync(modelVersion, format, checkedAt, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (_snapshot?.ModelVersion != modelVersion)
                    throw e as IndexUnavailableException ?? new IndexUnavailableException($"the index of {modelVersion} cannot be loaded: {e.Message}", e);
                logger.LogError(e, "Refreshing the index of {ModelVersion} failed; answering from the one loaded at {LoadedAt}", modelVersion, _snapshot.CheckedAt);
                fresh = _snapshot with { CheckedAt = checkedAt, SegmentsRead = 0 };
            }
            Volatile.Write(ref _snapshot, fresh);
            return fresh;
        }
        finally
        {
            _gate.Release();
        }
    }

    private bool IsFresh(IndexSnapshot? snapshot, string modelVersion) =>
        snapshot is not null && snapshot.ModelVersion == modelVersion && time.GetUtcNow() - snapshot.CheckedAt < options.IndexRefreshInterval;

    private async Task<IndexSnapshot> LoadAsync(string modelVersion, CodeFormat format, DateTimeOffset checkedAt, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var entries = await _catalog.ListAsync(modelVersion, cancellationToken);
            var missing = entries.Where(e => !_held.ContainsKey(e.Key)).ToList();
            var fetched = new ShardSegment?[missing.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, missing.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                async (i, ct) => fetched[i] = await _files.ReadAsync(missing[i].BlobName, modelVersion, format, ct));
            for (var i = 0; i < missing.Count; i++)
                if (fetched[i] is { } segment) _held[missing[i].Key] = segment;
            if (fetched.Any(f => f is null))
            {
                if (attempt == Attempts)
                    throw new IndexUnavailableException($"segment files listed for {modelVersion} are missing after {Attempts} catalog reads");
                continue; // compacted away since the catalog was read: read it again
            }
            var listed = entries.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
            var dropped = _held.Keys.Where(k => !listed.Contains(k)).ToList();
            foreach (var key in dropped) _held.Remove(key);
            if (missing.Count == 0 && dropped.Count == 0 && _snapshot is { } same && same.ModelVersion == modelVersion)
                return same with { CheckedAt = checkedAt, SegmentsRead = 0 };
            var snapshot = Build(modelVersion, format, entries, checkedAt, missing.Count);
            logger.LogInformation("Index of {ModelVersion}: {Segments} segments ({Read} read, {Dropped} dropped), {Items} items, {Hidden} replaced items hidden",
                modelVersion, entries.Count, missing.Count, dropped.Count, snapshot.Items, snapshot.Hidden.Count);
            return snapshot;
        }
    }

    /// <summary>The sealed segments as held, then one tail of the deltas (oldest first, later items winning), with the sealed items the tail replaces hidden.</summary>
    private IndexSnapshot Build(string modelVersion, CodeFormat format, IReadOnlyList<SegmentEntry> entries, DateTimeOffset checkedAt, int read)
    {
        var sealedEntries = entries.Where(e => e.Kind == SegmentKind.Sealed && _held[e.Key].Count > 0).ToList();
        var deltas = entries.Where(e => e.Kind == SegmentKind.Delta).Select(e => _held[e.Key]).ToList();
        var segments = sealedEntries.Select(e => _held[e.Key]).ToList();
        var hidden = new List<(int Segment, int Item)>();
        if (deltas.Count > 0)
        {
            var tail = deltas.Count == 1 ? deltas[0] : IndexSegments.Merge(format, modelVersion, deltas);
            var sealedOfShard = sealedEntries.Select((e, i) => (e.Shard, i)).ToLookup(x => x.Shard, x => x.i);
            var shardCount = entries[0].ShardCount;
            for (var i = 0; i < tail.Count && sealedEntries.Count > 0; i++)
            {
                var id = tail.Ids[i];
                foreach (var s in sealedOfShard[ImageId.FromBlobName(id).Shard(shardCount)])
                {
                    var at = segments[s].Ids.IndexOf(id);
                    if (at >= 0) hidden.Add((s, at));
                }
            }
            if (tail.Count > 0) segments.Add(tail);
        }
        return new IndexSnapshot(modelVersion, [.. segments], ItemExclusions.Create(segments, hidden), checkedAt, read);
    }
}
