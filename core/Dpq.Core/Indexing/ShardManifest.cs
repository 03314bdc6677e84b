using Azure;
using Azure.Data.Tables;
using Polly;
using Polly.Retry;

namespace Dpq.Indexing;

/// <summary>The state of one shard of one model version, as the query side sees it.</summary>
public sealed record ShardState(int Shard, int ShardCount, long Generation, DateTimeOffset UpdatedAt);

/// <summary>
/// The shard manifest: PartitionKey = model version, RowKey = "s{shard:000}", with a generation
/// that every write to the shard increments. Queries reload exactly the shards whose generation
/// moved. Increments are optimistic: read, then write with the row's ETag; a concurrent writer
/// makes the write fail with 412 (or 409 on first creation) and the increment is retried.
/// </summary>
public sealed class ShardManifest(TableClient table)
{
    private static readonly ResiliencePipeline ConflictRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RequestFailedException>(e => e.Status is 409 or 412),
            MaxRetryAttempts = 20,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(10),
            MaxDelay = TimeSpan.FromMilliseconds(500),
        })
        .Build();

    public static string RowKey(int shard) => $"s{shard:000}";

    /// <summary>Increments the generation of each shard in <paramref name="shards"/>.</summary>
    public async Task BumpAsync(string modelVersion, int shardCount, IEnumerable<int> shards, TimeProvider time, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(modelVersion);
        // Each shard is its own row with its own ETag: the rows are bumped concurrently.
        await Task.WhenAll(shards.Distinct().Select(async shard =>
        {
            await ConflictRetry.ExecuteAsync(async ct =>
            {
                var existing = await table.GetEntityIfExistsAsync<TableEntity>(modelVersion, RowKey(shard), cancellationToken: ct);
                if (existing.HasValue && existing.Value is { } row)
                {
                    row["Generation"] = (row.GetInt64("Generation") ?? 0) + 1;
                    row["UpdatedAt"] = time.GetUtcNow();
                    await table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, ct);
                }
                else
                {
                    await table.AddEntityAsync(new TableEntity(modelVersion, RowKey(shard))
                    {
                        ["Generation"] = 1L,
                        ["ShardCount"] = shardCount,
                        ["UpdatedAt"] = time.GetUtcNow(),
                    }, ct);
                }
            }, cancellationToken);
        }));
    }

    /// <summary>Every shard of <paramref name="modelVersion"/> that has been written to.</summary>
    public async Task<IReadOnlyList<ShardState>> ReadAsync(string modelVersion, CancellationToken cancellationToken = default)
    {
        var list = new List<ShardState>();
        // Only the shard rows "s000".."s999": the segment catalog's "seg-" rows share the partition and sort after ':'.
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {modelVersion} and RowKey ge {"s0"} and RowKey lt {"s:"}");
        await foreach (var e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            list.Add(new ShardState(int.Parse(e.RowKey.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture),
                e.GetInt32("ShardCount") ?? throw new InvalidDataException($"manifest row {e.RowKey} has no ShardCount"),
                e.GetInt64("Generation") ?? 0, e.GetDateTimeOffset("UpdatedAt") ?? default));
        }
        return list;
    }
}
