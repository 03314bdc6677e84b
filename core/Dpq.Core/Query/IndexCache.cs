using System.Collections.Immutable;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Query;

/// <summary>The shard segments of one model version as of one manifest read; RowsRead: code rows the refresh that made it read.</summary>
public sealed record IndexSnapshot(string ModelVersion, ImmutableArray<ShardSegment> Segments, DateTimeOffset CheckedAt, int RowsRead = 0)
{
    public long Items => Segments.Sum(s => (long)s.Count);
}

/// <summary>
/// Compact codes in memory for the query side, one <see cref="ShardSegment"/> per shard. Reads the
/// shard manifest at most every RefreshInterval; when generations moved, it reads only the rows
/// written since the newest one it holds (one query over all shards, going back IndexWriteSkew for
/// rows committed out of timestamp order) and merges them into the shards' segments. Only the first
/// load reads every row. A row committed more than IndexWriteSkew out of timestamp order would be
/// missed until the process restarts; storage servers' clocks are kept far closer than that. A warm query costs no storage round trip. The generation is read before
/// the rows, so writes that land during a refresh are picked up by the next one, never lost.
/// </summary>
public sealed class IndexCache(StorageClients storage, QueryOptions options, TimeProvider time, ILogger<IndexCache> logger)
{
    /// <summary>Label stored for images without one; label filters never match it.</summary>
    public const byte NoLabel = byte.MaxValue;

    private readonly ShardManifest _manifest = new(storage.Table(storage.Names.ManifestsTable));
    private readonly CodeTable _codes = new(storage.Table(storage.Names.CodesTable));
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<int, (long Generation, ShardSegment Segment)> _shards = [];
    private DateTimeOffset? _newestRow; // the newest row timestamp read for the current version
    private IndexSnapshot? _snapshot;

    public async Task<IndexSnapshot> GetAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (IsFresh(snapshot, modelVersion)) return snapshot!;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (IsFresh(_snapshot, modelVersion)) return _snapshot!;
            if (_snapshot?.ModelVersion != modelVersion) // never mix versions
            {
                _shards.Clear();
                _newestRow = null;
            }
            var checkedAt = time.GetUtcNow();
            var rowsRead = 0;
            var moved = (await _manifest.ReadAsync(modelVersion, cancellationToken))
                .Where(state => !_shards.TryGetValue(state.Shard, out var held) || held.Generation != state.Generation).ToList();
            if (moved.Count > 0)
            {
                // The first load reads every shard of the version, listed in the manifest or not yet
                // (a bump can lag its rows); later ones read what was written since.
                var since = _newestRow - options.IndexWriteSkew;
                var rows = new List<StoredCode>();
                await foreach (var row in _codes.ReadVersionAsync(modelVersion, since, cancellationToken)) rows.Add(row);
                var byShard = rows.ToLookup(r => r.Shard, r => r.Image);
                var generations = moved.ToDictionary(m => m.Shard, m => m.Generation);
                foreach (var shard in generations.Keys.Union(byShard.Select(g => g.Key)))
                {
                    _shards.TryGetValue(shard, out var held);
                    _shards[shard] = (generations.GetValueOrDefault(shard, held.Generation), Merge(held.Segment, byShard[shard], format, modelVersion));
                }
                foreach (var row in rows)
                    if (_newestRow is null || row.Written > _newestRow) _newestRow = row.Written;
                rowsRead = rows.Count;
                logger.LogInformation("Index of {ModelVersion}: {Moved} shards moved, read {Rows} rows ({How}); {Items} items",
                    modelVersion, moved.Count, rows.Count, since is null ? "every row" : "written since the last refresh",
                    _shards.Values.Sum(v => (long)v.Segment.Count));
            }
            var segments = _shards.OrderBy(s => s.Key).Select(s => s.Value.Segment).Where(s => s.Count > 0).ToImmutableArray();
            var fresh = new IndexSnapshot(modelVersion, segments, checkedAt, rowsRead);
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

    /// <summary>A new segment: the held one's items (those not rewritten) plus <paramref name="rows"/>, the last row of an image winning.</summary>
    private static ShardSegment Merge(ShardSegment? held, IEnumerable<IndexedImage> rows, CodeFormat format, string modelVersion)
    {
        var latest = new Dictionary<string, IndexedImage>(StringComparer.Ordinal);
        foreach (var row in rows) latest[row.BlobName] = row;
        var builder = new ShardSegmentBuilder(format, modelVersion);
        var packed = new byte[format.BytesPerCode];
        if (held is not null)
        {
            for (var i = 0; i < held.Count; i++)
            {
                var id = held.Ids[i];
                if (latest.ContainsKey(id)) continue;
                held.CopyCode(i, packed);
                builder.Add(id, packed, held.Labels[i]);
            }
        }
        Span<int> levels = stackalloc int[format.Levels];
        foreach (var row in latest.Values)
        {
            if (row.Code.Length != format.Levels)
                throw new InvalidDataException($"row for {row.BlobName} has a {row.Code.Length}-level code; model {modelVersion} has {format.Levels} levels");
            for (var l = 0; l < levels.Length; l++) levels[l] = row.Code[l];
            format.Pack(levels, packed);
            builder.Add(row.BlobName, packed, row.Label is >= 0 and < NoLabel ? (byte)row.Label.Value : NoLabel);
        }
        return builder.Build(); // sorted by id: deterministic order, shared prefixes adjacent
    }
}
