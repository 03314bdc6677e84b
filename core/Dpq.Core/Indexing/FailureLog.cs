using Azure.Data.Tables;

namespace Dpq.Indexing;

/// <summary>Where an image that will never be indexed is recorded, with the reason, so nothing is lost silently.</summary>
public enum FailureStage { Intake, Decode, Poison }

public sealed record FailureRecord(string BlobName, FailureStage Stage, string Reason, DateTimeOffset At);

/// <summary>
/// The failures table: one row per image (PartitionKey "failure", RowKey = image id), so a
/// repeated failure overwrites its row instead of piling up.
/// </summary>
public sealed class FailureLog(TableClient table)
{
    private const string Partition = "failure";

    public Task RecordAsync(FailureRecord failure, CancellationToken cancellationToken = default)
    {
        var entity = new TableEntity(Partition, ImageId.FromBlobName(failure.BlobName).ToString())
        {
            ["BlobName"] = failure.BlobName,
            ["Stage"] = failure.Stage.ToString(),
            ["Reason"] = failure.Reason.Length > 1000 ? failure.Reason[..1000] : failure.Reason,
            ["At"] = failure.At,
        };
        return table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<FailureRecord?> FindAsync(string blobName, CancellationToken cancellationToken = default)
    {
        var row = await table.GetEntityIfExistsAsync<TableEntity>(Partition, ImageId.FromBlobName(blobName).ToString(), cancellationToken: cancellationToken);
        return row.HasValue && row.Value is { } e ? ToRecord(e) : null;
    }

    public async Task<IReadOnlyList<FailureRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var list = new List<FailureRecord>();
        await foreach (var e in table.QueryAsync<TableEntity>(x => x.PartitionKey == Partition, cancellationToken: cancellationToken))
            list.Add(ToRecord(e));
        return list;
    }

    private static FailureRecord ToRecord(TableEntity e) => new(
        e.GetString("BlobName"), Enum.Parse<FailureStage>(e.GetString("Stage")), e.GetString("Reason"),
        e.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue);
}
