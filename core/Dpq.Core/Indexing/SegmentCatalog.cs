using Dpq.Formats;
using System.Globalization;
using Azure;
using Azure.Data.Tables;

namespace Dpq.Indexing;

/// <summary>A delta holds one write's codes (any shards); a sealed segment holds one shard's codes merged by compaction.</summary>
public enum SegmentKind
{
    Delta,
    Sealed,
}

/// <summary>
/// One segment file of a model version's index, as its catalog row lists it. Key orders segments:
/// deltas by the time they were written; Shard is the sealed segment's shard (-1 for a delta); Removed: the
/// ids a delta removes.
/// </summary>
public sealed record SegmentEntry(string ModelVersion, string Key, SegmentKind Kind, int Shard, int ShardCount, int Items, ETag ETag, int Removed = 0)
{
    /// <summary>The segment file in the segments container.</summary>
    public string BlobName => BlobNameFor(ModelVersion, Key);

    public static string BlobNameFor(string modelVersion, string key) => $"{modelVersion}/{key}.dpqs";
}

/// <summary>How a version's index is laid out: its shard count and its code format (null for versions written before the format was recorded).</summary>
public sealed record IndexLayout(int ShardCount, CodeFormat? Format, ETag ETag);

/// <summary>
/// One model version's segment catalog: which segment files make up its index, and its layout.
/// Rows live in the manifests table (PartitionKey = model version, RowKey = "seg-d-{ticks}-{guid}" for a
/// delta, "seg-s-{shard}-{ticks}-{guid}" for a sealed segment, <see cref="LayoutKey"/> for the
/// <see cref="IndexLayout"/>). The index is every listed segment, read in this order: sealed segments, then deltas oldest
/// first, a later item of an id replacing an earlier one. A delta row is added after its file is
/// stored, so a listed segment always exists until compaction replaces it; compaction swaps rows in one
/// transaction whose deletes carry the rows' ETags, so two compactors cannot both merge the same
/// deltas. The shard count is recorded once, by the version's first writer, and never changes, so
/// writers configured differently cannot split a version. Made by <see cref="IndexStore"/>.
/// </summary>
public sealed class SegmentCatalog(TableClient table, string modelVersion)
{
    private const string Prefix = "seg-";
    private const string DeltaPrefix = "seg-d-";
    private const string SealedPrefix = "seg-s-";

    /// <summary>The row holding the version's layout (outside the "seg-" range that <see cref="ListAsync"/> reads).</summary>
    public const string LayoutKey = "layout";
    /// <summary>
    /// Added by the first transaction that lists sealed segments where there were none (a compaction
    /// or <see cref="IndexRepair.SealTableRowsAsync"/>), so two such first sealings cannot both commit.
    /// </summary>
    public const string FirstSealKey = "seg-0";

    /// <summary>Entity group transactions hold at most 100 actions.</summary>
    public const int MaxTransactionActions = 100;

    /// <summary>A new delta's key: later writes sort later (to the writer's clock), the guid keeps keys unique.</summary>
    public static string NewDeltaKey(TimeProvider time) =>
        string.Create(CultureInfo.InvariantCulture, $"{DeltaPrefix}{time.GetUtcNow().UtcTicks:D19}-{Guid.NewGuid():N}");

    /// <summary>When a delta key was made (its writer's clock).</summary>
    public static DateTimeOffset DeltaTime(string key) =>
        key.StartsWith(DeltaPrefix, StringComparison.Ordinal) && key.Length >= DeltaPrefix.Length + 19
        && long.TryParse(key.AsSpan(DeltaPrefix.Length, 19), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : throw new FormatException($"'{key}' is not a delta key");

    public static string NewSealedKey(int shard, TimeProvider time) =>
        string.Create(CultureInfo.InvariantCulture, $"{SealedPrefix}{shard:000}-{time.GetUtcNow().UtcTicks:D19}-{Guid.NewGuid():N}");

    /// <summary>The recorded layout; null when none is recorded (a version nothing was written to, or one written before layouts were recorded).</summary>
    public async Task<IndexLayout?> ReadLayoutAsync(CancellationToken cancellationToken = default)
    {
        var row = await table.GetEntityIfExistsAsync<TableEntity>(modelVersion, LayoutKey, cancellationToken: cancellationToken);
        if (!row.HasValue || row.Value is not { } e) return null;
        var shardCount = e.GetInt32("ShardCount") ?? throw new InvalidDataException($"the layout row of {modelVersion} has no ShardCount");
        return new IndexLayout(shardCount, e.GetInt32("Codewords") is { } k && e.GetInt32("Levels") is { } m ? new CodeFormat(k, m) : null, e.ETag);
    }

    /// <summary>
    /// Records <paramref name="layout"/> unless a layout is recorded already, in which case only a code format it
    /// lacks is added; returns the recorded layout, which is the one to use. A recorded shard count never changes.
    /// </summary>
    public async Task<IndexLayout> RecordLayoutAsync(int shardCount, CodeFormat? format, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        for (var attempt = 0; ; attempt++)
        {
            var recorded = await ReadLayoutAsync(cancellationToken);
            try
            {
                if (recorded is null)
                {
                    var row = new TableEntity(modelVersion, LayoutKey) { ["ShardCount"] = shardCount };
                    if (format is { } f) (row["Codewords"], row["Levels"]) = (f.Codewords, f.Levels);
                    await table.AddEntityAsync(row, cancellationToken);
                    return new IndexLayout(shardCount, format, default);
                }
                if (recorded.Format is not null || format is not { } add) return recorded;
                await table.UpdateEntityAsync(new TableEntity(modelVersion, LayoutKey) { ["Codewords"] = add.Codewords, ["Levels"] = add.Levels },
                    recorded.ETag, TableUpdateMode.Merge, cancellationToken);
                return recorded with { Format = add };
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412 && attempt < 5)
            {
                // Another writer recorded it first: read what it wrote.
            }
        }
    }

    /// <summary>
    /// The shard count of a version written before the count was recorded: from its segment rows, or from the
    /// per-shard rows ("s000"...) that builds of that time kept beside them; null when there are neither.
    /// </summary>
    public async Task<int?> InferShardCountAsync(CancellationToken cancellationToken = default)
    {
        if ((await ListAsync(cancellationToken)).FirstOrDefault() is { } entry) return entry.ShardCount;
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {modelVersion} and RowKey ge {"s0"} and RowKey lt {"s:"}");
        await foreach (var e in table.QueryAsync<TableEntity>(filter, maxPerPage: 1, cancellationToken: cancellationToken))
            return e.GetInt32("ShardCount");
        return null;
    }

    /// <summary>Lists a delta whose file is already stored.</summary>
    /// <remarks>
    /// Delta keys are new, so an existing row is a conflict, unless it is this very row: then an earlier try of
    /// this insert committed and only its answer was lost, and the insert is done.
    /// </remarks>
    public async Task AddDeltaAsync(string key, int shardCount, int items, int removed = 0, CancellationToken cancellationToken = default)
    {
        if (!key.StartsWith(DeltaPrefix, StringComparison.Ordinal)) throw new ArgumentException($"'{key}' is not a delta key", nameof(key));
        var entity = ToEntity(modelVersion, key, SegmentKind.Delta, -1, shardCount, items);
        if (removed > 0) entity["Removed"] = removed;
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            var stored = FromEntity((await table.GetEntityAsync<TableEntity>(modelVersion, key, cancellationToken: cancellationToken)).Value);
            var wanted = FromEntity(entity);
            if (stored with { ETag = default } != wanted with { ETag = default }) throw;
        }
    }

    /// <summary>Every segment, sealed ones first, then deltas oldest first.</summary>
    public async Task<IReadOnlyList<SegmentEntry>> ListAsync(CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {modelVersion} and RowKey ge {Prefix} and RowKey lt {"seg."}");
        var list = new List<SegmentEntry>();
        await foreach (var e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            if (e.RowKey != FirstSealKey) list.Add(FromEntity(e));
        return [.. list.OrderBy(s => s.Kind == SegmentKind.Delta).ThenBy(s => s.Key, StringComparer.Ordinal)];
    }

    /// <summary>Whether a first sealing committed (its <see cref="FirstSealKey"/> row exists).</summary>
    public async Task<bool> HasFirstSealAsync(CancellationToken cancellationToken = default)
    {
        var row = await table.GetEntityIfExistsAsync<TableEntity>(modelVersion, FirstSealKey, select: ["PartitionKey"], cancellationToken: cancellationToken);
        return row.HasValue;
    }

    /// <summary>
    /// In one transaction: removes <paramref name="removed"/> (each only if unchanged since listed) and
    /// lists <paramref name="added"/> sealed segments; with <paramref name="firstSeal"/> also adds the
    /// <see cref="FirstSealKey"/> row, failing if it exists. Returns false, changing nothing, when another
    /// compaction got there first (a removed row is gone or changed).
    /// </summary>
    public Task<bool> ReplaceAsync(IReadOnlyCollection<SegmentEntry> removed, IReadOnlyCollection<SegmentEntry> added,
        bool firstSeal, CancellationToken cancellationToken = default)
    {
        if (removed.Count + added.Count + (firstSeal ? 1 : 0) > MaxTransactionActions)
            throw new ArgumentException($"{removed.Count} removals and {added.Count} additions exceed one transaction's {MaxTransactionActions} actions");
        if (added.Any(a => a.Kind != SegmentKind.Sealed || a.ModelVersion != modelVersion) || removed.Any(r => r.ModelVersion != modelVersion))
            throw new ArgumentException("only sealed segments of this model version can be added, and only this version's segments removed");
        var actions = removed.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(modelVersion, r.Key), r.ETag))
            .Concat(added.Select(a => new TableTransactionAction(TableTransactionActionType.Add, ToEntity(modelVersion, a.Key, a.Kind, a.Shard, a.ShardCount, a.Items))))
            .ToList();
        if (firstSeal) actions.Add(new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(modelVersion, FirstSealKey)));
        return SubmitAsync(actions, cancellationToken);
    }

    /// <summary>
    /// In one transaction: removes <paramref name="removed"/> and finds <paramref name="unchanged"/> as listed
    /// (a no-op merge checked against each one's ETag). False, changing nothing, when any of them changed or went.
    /// </summary>
    public Task<bool> RemoveWhileUnchangedAsync(IReadOnlyCollection<SegmentEntry> removed, IReadOnlyCollection<SegmentEntry> unchanged,
        CancellationToken cancellationToken = default)
    {
        if (removed.Count + unchanged.Count > MaxTransactionActions)
            throw new ArgumentException($"{removed.Count} removals and {unchanged.Count} checks exceed one transaction's {MaxTransactionActions} actions");
        var actions = removed.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(modelVersion, r.Key), r.ETag))
            .Concat(unchanged.Select(u => new TableTransactionAction(TableTransactionActionType.UpdateMerge, new TableEntity(modelVersion, u.Key), u.ETag)))
            .ToList();
        return SubmitAsync(actions, cancellationToken);
    }

    /// <summary>Runs one transaction; false when a checked row was gone or changed, or an added row existed.</summary>
    private async Task<bool> SubmitAsync(List<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        if (actions.Count == 0) return true;
        try
        {
            await table.SubmitTransactionAsync(actions, cancellationToken);
            return true;
        }
        catch (TableTransactionFailedException e) when (e.Status is 404 or 409 or 412)
        {
            return false;
        }
    }

    private static TableEntity ToEntity(string modelVersion, string key, SegmentKind kind, int shard, int shardCount, int items)
    {
        var entity = new TableEntity(modelVersion, key)
        {
            ["Kind"] = kind.ToString(),
            ["ShardCount"] = shardCount,
            ["Items"] = items,
        };
        if (kind == SegmentKind.Sealed) entity["Shard"] = shard;
        return entity;
    }

    private static SegmentEntry FromEntity(TableEntity e)
    {
        var kind = Enum.TryParse<SegmentKind>(e.GetString("Kind"), out var k) ? k
            : throw new InvalidDataException($"segment row {e.PartitionKey}/{e.RowKey} has no valid Kind");
        return new SegmentEntry(e.PartitionKey, e.RowKey, kind, kind == SegmentKind.Sealed ? e.GetInt32("Shard") ?? -1 : -1,
            e.GetInt32("ShardCount") ?? throw new InvalidDataException($"segment row {e.PartitionKey}/{e.RowKey} has no ShardCount"),
            e.GetInt32("Items") ?? 0, e.ETag, e.GetInt32("Removed") ?? 0);
    }
}
