using Azure.Data.Tables;

namespace Dpq.Indexing;

/// <summary>
/// One model version's codes in Table storage, one row per image (see <see cref="IndexKeys"/>), in
/// the version's fixed number of shards. Writes are upserts in partition-grouped transactions:
/// writing the same images again leaves exactly one correct row each, which is what makes a
/// redelivered queue message harmless. Made by <see cref="IndexStore"/>.
/// </summary>
public sealed class CodeTable(TableClient table, string modelVersion, int shardCount)
{
    private const int MaxTransactionSize = 100; // Table storage's limit per entity group transaction

    /// <summary>Writes <paramref name="images"/>; returns the shards touched.</summary>
    public async Task<IReadOnlyCollection<int>> WriteAsync(IReadOnlyList<IndexedImage> images, CancellationToken cancellationToken = default)
    {
        // The same image twice in one batch would make its transaction fail: the last one wins.
        var latest = new Dictionary<ImageId, IndexedImage>();
        foreach (var image in images) latest[image.Id] = image;

        // Transactions are per partition, so partitions are written concurrently.
        var groups = latest.Values.GroupBy(i => i.Id.Shard(shardCount)).OrderBy(g => g.Key).ToList();
        await Task.WhenAll(groups.Select(async group =>
        {
            var partition = IndexKeys.Partition(modelVersion, group.Key);
            foreach (var chunk in group.Chunk(MaxTransactionSize))
            {
                var actions = chunk.Select(i => new TableTransactionAction(TableTransactionActionType.UpsertReplace, ToEntity(partition, i)));
                await table.SubmitTransactionAsync(actions, cancellationToken);
            }
        }));
        return [.. groups.Select(g => g.Key)];
    }

    /// <summary>Deletes the rows of the images named <paramref name="blobNames"/>; a row that is not there is no error.</summary>
    public Task DeleteAsync(IEnumerable<string> blobNames, CancellationToken cancellationToken = default) =>
        Parallel.ForEachAsync(blobNames.Select(ImageId.FromBlobName).Distinct(), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (id, ct) => await table.DeleteEntityAsync(IndexKeys.Partition(modelVersion, id.Shard(shardCount)), id.ToString(), Azure.ETag.All, ct));

    /// <summary>The images of every shard, in one query.</summary>
    public async IAsyncEnumerable<IndexedImage> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (from, to) = IndexKeys.PartitionRange(modelVersion);
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {to}");
        await foreach (var e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            yield return FromEntity(e);
    }

    public async Task<IndexedImage?> FindAsync(ImageId id, CancellationToken cancellationToken = default)
    {
        var row = await table.GetEntityIfExistsAsync<TableEntity>(IndexKeys.Partition(modelVersion, id.Shard(shardCount)), id.ToString(), cancellationToken: cancellationToken);
        return row.HasValue && row.Value is { } e ? FromEntity(e) : null;
    }

    private static TableEntity ToEntity(string partition, IndexedImage image)
    {
        var entity = new TableEntity(partition, image.Id.ToString())
        {
            ["BlobName"] = image.BlobName,
            ["Code"] = image.Code,
            ["SourceETag"] = image.SourceETag,
        };
        if (image.Label is { } label) entity["Label"] = label;
        if (image.CopyCode is { } copyCode) entity["CopyCode"] = copyCode;
        return entity;
    }

    private static IndexedImage FromEntity(TableEntity e) => new(
        ImageId.Parse(e.RowKey), e.GetString("BlobName"), LabelOf(e),
        e.GetBinary("Code") ?? throw new InvalidDataException($"code row {e.PartitionKey}/{e.RowKey} has no Code"),
        e.GetString("SourceETag"), e.GetBinary("CopyCode") is { Length: Copies.CopyCodec.CodeBytes } copyCode ? copyCode : null);

    /// <summary>The row's class name: a string, or in rows written before class names an integer, read as its text.</summary>
    private static string? LabelOf(TableEntity e) => e.TryGetValue("Label", out var value) switch
    {
        false => null,
        true when value is int number => number.ToString(System.Globalization.CultureInfo.InvariantCulture),
        true => value as string,
    };
}
