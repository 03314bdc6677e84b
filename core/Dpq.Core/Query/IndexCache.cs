using System.Collections.Immutable;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Query;

/// <summary>The shard segments of one model version as of one manifest read.</summary>
public sealed record IndexSnapshot(string ModelVersion, ImmutableArray<ShardSegment> Segments, DateTimeOffset CheckedAt)
{
    public long Items => Segments.Sum(s => (long)s.Count);
}

/// <summary>
/// Compact codes in memory for the query side, one <see cref="ShardSegment"/> per shard. Reads the
/// shard manifest at most every RefreshInterval and reloads exactly the shards whose generation
/// moved, so a warm query costs no storage round trip. The generation is read before the rows, so
/// writes that land during a reload are picked up by the next refresh, never lost.
/// </summary>
public sealed class IndexCache(StorageClients storage, QueryOptions options, TimeProvider time, ILogger<IndexCache> logger)
{
    /// <summary>Label stored for images without one; label filters never match it.</summary>
    public const byte NoLabel = byte.MaxValue;

    private readonly ShardManifest _manifest = new(storage.Table(storage.Names.ManifestsTable));
    private readonly CodeTable _codes = new(storage.Table(storage.Names.CodesTable));
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<int, (long Generation, ShardSegment Segment)> _shards = [];
    private IndexSnapshot? _snapshot;

    public async Task<IndexSnapshot> GetAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (IsFresh(snapshot, modelVersion)) return snapshot!;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (IsFresh(_snapshot, modelVersion)) return _snapshot!;
            if (_snapshot?.ModelVersion != modelVersion) _shards.Clear(); // never mix versions
            var checkedAt = time.GetUtcNow();
            foreach (var state in await _manifest.ReadAsync(modelVersion, cancellationToken))
            {
                if (_shards.TryGetValue(state.Shard, out var held) && held.Generation == state.Generation) continue;
                var segment = await LoadShardAsync(modelVersion, format, state.Shard, cancellationToken);
                _shards[state.Shard] = (state.Generation, segment);
                logger.LogInformation("Loaded shard {Shard} of {ModelVersion}: {Count} items (generation {Generation})",
                    state.Shard, modelVersion, segment.Count, state.Generation);
            }
            var segments = _shards.OrderBy(s => s.Key).Select(s => s.Value.Segment).Where(s => s.Count > 0).ToImmutableArray();
            var fresh = new IndexSnapshot(modelVersion, segments, checkedAt);
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

    private async Task<ShardSegment> LoadShardAsync(string modelVersion, CodeFormat format, int shard, CancellationToken cancellationToken)
    {
        var rows = new List<IndexedImage>();
        await foreach (var row in _codes.ReadShardAsync(modelVersion, shard, cancellationToken)) rows.Add(row);
        rows.Sort((a, b) => string.CompareOrdinal(a.BlobName, b.BlobName)); // deterministic order, shared prefixes adjacent
        var builder = new ShardSegmentBuilder(format, modelVersion);
        Span<int> levels = stackalloc int[format.Levels];
        var packed = new byte[format.BytesPerCode];
        foreach (var row in rows)
        {
            if (row.Code.Length != format.Levels)
                throw new InvalidDataException($"row for {row.BlobName} has a {row.Code.Length}-level code; model {modelVersion} has {format.Levels} levels");
            for (var l = 0; l < levels.Length; l++) levels[l] = row.Code[l];
            format.Pack(levels, packed);
            builder.Add(row.BlobName, packed, row.Label is >= 0 and < NoLabel ? (byte)row.Label.Value : NoLabel);
        }
        return builder.Build();
    }
}
