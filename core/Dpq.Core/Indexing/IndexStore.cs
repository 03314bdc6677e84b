using System.Collections.Concurrent;
using Dpq.Storage;

namespace Dpq.Indexing;

/// <summary>
/// The indexes of every model version in one storage account: hands out each version's
/// <see cref="VersionIndex"/> with the shard count recorded in its catalog. The first writer of a
/// version records the count it was configured with; everyone after uses the recorded one.
/// </summary>
public sealed class IndexStore(StorageClients storage)
{
    private readonly ConcurrentDictionary<string, VersionIndex> _opened = new(StringComparer.Ordinal);

    /// <summary>The index of <paramref name="modelVersion"/>; null when nothing has been written to it yet.</summary>
    public async Task<VersionIndex?> OpenAsync(string modelVersion, CancellationToken cancellationToken = default)
    {
        if (_opened.TryGetValue(modelVersion, out var held)) return held;
        var catalog = Catalog(modelVersion);
        var shardCount = await catalog.ReadShardCountAsync(cancellationToken);
        if (shardCount is null && await catalog.InferShardCountAsync(cancellationToken) is { } inferred)
            shardCount = await catalog.RecordShardCountAsync(inferred, cancellationToken);
        return shardCount is { } n ? Remember(modelVersion, n, catalog) : null;
    }

    /// <summary>The index of <paramref name="modelVersion"/>, recording <paramref name="shardCountIfNew"/> when it has none yet.</summary>
    public async Task<VersionIndex> OpenOrCreateAsync(string modelVersion, int shardCountIfNew, CancellationToken cancellationToken = default)
    {
        if (await OpenAsync(modelVersion, cancellationToken) is { } index) return index;
        var catalog = Catalog(modelVersion);
        return Remember(modelVersion, await catalog.RecordShardCountAsync(shardCountIfNew, cancellationToken), catalog);
    }

    private SegmentCatalog Catalog(string modelVersion)
    {
        ModelVersion.Validate(modelVersion);
        return new SegmentCatalog(storage.Table(storage.Names.ManifestsTable), modelVersion);
    }

    private VersionIndex Remember(string modelVersion, int shardCount, SegmentCatalog catalog) =>
        _opened.GetOrAdd(modelVersion, _ => new VersionIndex(modelVersion, shardCount,
            new CodeTable(storage.Table(storage.Names.CodesTable), modelVersion, shardCount), catalog,
            new SegmentStore(storage.Container(storage.Names.SegmentsContainer), modelVersion)));
}
