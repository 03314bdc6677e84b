using Azure.Storage.Blobs.Models;
using System.Collections.Concurrent;
using Azure.Data.Tables;
using Dpq.Formats;
using Dpq.Storage;

namespace Dpq.Indexing;

/// <summary>
/// The indexes of every model version in one storage account: hands out each version's
/// <see cref="VersionIndex"/> with the layout recorded in its catalog. The first writer of a version
/// records the shard count it was configured with and the model's code format; everyone after uses
/// the recorded ones.
/// </summary>
public sealed class IndexStore(StorageClients storage)
{
    private readonly ConcurrentDictionary<string, VersionIndex> _opened = new(StringComparer.Ordinal);

    /// <summary>The index of <paramref name="modelVersion"/>; null when nothing has been written to it yet.</summary>
    public async Task<VersionIndex?> OpenAsync(string modelVersion, CancellationToken cancellationToken = default)
    {
        if (_opened.TryGetValue(modelVersion, out var held)) return held;
        var catalog = Catalog(modelVersion);
        var layout = await catalog.ReadLayoutAsync(cancellationToken);
        if (layout is null && await catalog.InferShardCountAsync(cancellationToken) is { } inferred)
            layout = await catalog.RecordLayoutAsync(inferred, null, cancellationToken);
        return layout is null ? null : Remember(modelVersion, layout, catalog);
    }

    /// <summary>
    /// The index of <paramref name="modelVersion"/>, recording <paramref name="shardCountIfNew"/> and <paramref name="format"/>
    /// when it has no layout yet (and the format when its layout lacks one).
    /// </summary>
    public async Task<VersionIndex> OpenOrCreateAsync(string modelVersion, int shardCountIfNew, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var index = await OpenAsync(modelVersion, cancellationToken);
        if (index?.Format is { } recorded)
        {
            return recorded == format ? index
                : throw new InvalidDataException($"the index of {modelVersion} holds codes of {recorded}; the model encodes {format}");
        }
        var catalog = Catalog(modelVersion);
        var layout = await catalog.RecordLayoutAsync(index?.ShardCount ?? shardCountIfNew, format, cancellationToken);
        _opened.TryRemove(modelVersion, out _);
        return Remember(modelVersion, layout, catalog);
    }

    /// <summary>Every version with a recorded layout (one small cross-partition query of the manifests table).</summary>
    public async Task<IReadOnlyList<VersionIndex>> ListAsync(CancellationToken cancellationToken = default)
    {
        var versions = new List<VersionIndex>();
        var filter = TableClient.CreateQueryFilter($"RowKey eq {SegmentCatalog.LayoutKey}");
        await foreach (var row in storage.Table(storage.Names.ManifestsTable).QueryAsync<TableEntity>(filter, select: ["PartitionKey"], cancellationToken: cancellationToken))
            if (await OpenAsync(row.PartitionKey, cancellationToken) is { } index) versions.Add(index);
        return versions;
    }

    /// <summary>
    /// Deletes the index of <paramref name="modelVersion"/>: its code rows, its segment files, then its catalog rows
    /// and layout last, so a deletion cut short is found again by <see cref="ListAsync"/> and finished by the next call.
    /// </summary>
    public async Task DeleteVersionAsync(string modelVersion, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(modelVersion);
        var codes = storage.Table(storage.Names.CodesTable);
        var (from, to) = IndexKeys.PartitionRange(modelVersion);
        await DeleteRowsAsync(codes, TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {to}"), cancellationToken);
        var segments = storage.Container(storage.Names.SegmentsContainer);
        await foreach (var blob in segments.GetBlobsAsync(BlobTraits.None, BlobStates.None, modelVersion + "/", cancellationToken))
            await segments.GetBlobClient(blob.Name).DeleteIfExistsAsync(cancellationToken: cancellationToken);
        var manifests = storage.Table(storage.Names.ManifestsTable);
        await DeleteRowsAsync(manifests, TableClient.CreateQueryFilter($"PartitionKey eq {modelVersion} and RowKey ne {SegmentCatalog.LayoutKey}"), cancellationToken);
        await manifests.DeleteEntityAsync(modelVersion, SegmentCatalog.LayoutKey, Azure.ETag.All, cancellationToken);
        _opened.TryRemove(modelVersion, out _);
    }

    /// <summary>Deletes the rows <paramref name="filter"/> selects, a partition's rows 100 to a transaction.</summary>
    private static async Task DeleteRowsAsync(TableClient table, string filter, CancellationToken cancellationToken)
    {
        var keys = new List<(string Partition, string Row)>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
            keys.Add((row.PartitionKey, row.RowKey));
        foreach (var partition in keys.GroupBy(k => k.Partition))
            foreach (var chunk in partition.Chunk(SegmentCatalog.MaxTransactionActions))
                await table.SubmitTransactionAsync(chunk.Select(k => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(k.Partition, k.Row), Azure.ETag.All)), cancellationToken);
    }

    private SegmentCatalog Catalog(string modelVersion)
    {
        ModelVersion.Validate(modelVersion);
        return new SegmentCatalog(storage.Table(storage.Names.ManifestsTable), modelVersion);
    }

    private VersionIndex Remember(string modelVersion, IndexLayout layout, SegmentCatalog catalog) =>
        _opened.GetOrAdd(modelVersion, _ => new VersionIndex(modelVersion, layout,
            new CodeTable(storage.Table(storage.Names.CodesTable), modelVersion, layout.ShardCount), catalog,
            new SegmentStore(storage.Container(storage.Names.SegmentsContainer), modelVersion)));
}
