using Azure.Data.Tables;

namespace Dpq.Indexing;

/// <summary>
/// Where an image that could not be indexed is recorded, with the reason, so nothing is lost silently.
/// Intake and Decode are about the file (its name, size, type or bytes): they hold until the blob is
/// written again. Poison means something failed while handling it (a worker that kept crashing, storage
/// that kept failing, a decoder fault): it may work later, so it is retried (see <see cref="FailureRecord.Holds"/>).
/// </summary>
public enum FailureStage { Intake, Decode, Poison }

/// <param name="ETag">The blob content the failure is about, when known; the record stands for that content only.</param>
/// <param name="Attempts">How many times in a row the image was poisoned (1 for the other stages): each one doubles the wait before the next try.</param>
public sealed record FailureRecord(string BlobName, FailureStage Stage, string Reason, DateTimeOffset At, string? ETag = null, int Attempts = 1)
{
    /// <summary>Wait before the first retry of a poisoned image; it doubles with each attempt, up to <see cref="MaxRetryAfter"/>.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromMinutes(15);

    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromDays(1);

    /// <summary>When a poisoned image is tried again; never for the other stages.</summary>
    public DateTimeOffset? RetryAt => Stage == FailureStage.Poison
        ? At + TimeSpan.FromTicks(Math.Min(MaxRetryAfter.Ticks, RetryAfter.Ticks << Math.Clamp(Attempts - 1, 0, 16)))
        : null;

    /// <summary>
    /// Whether this record still stands for the blob as it is now (<paramref name="blobETag"/>, last modified at
    /// <paramref name="blobModified"/>): it is about that content (by ETag when the record has one; otherwise it
    /// is no older than the blob), and it is not a poisoning due for a retry.
    /// </summary>
    public bool Holds(string? blobETag, DateTimeOffset? blobModified, DateTimeOffset now) =>
        (ETag is not null ? SameETag(ETag, blobETag) : blobModified <= At) && !(RetryAt <= now);

    // Listings give ETags bare, property reads give them quoted.
    private static bool SameETag(string a, string? b) => b is not null && a.Trim('"') == b.Trim('"');
}

/// <summary>
/// The failures table: one row per image (PartitionKey "failure", RowKey = image id), so a
/// repeated failure overwrites its row instead of piling up.
/// </summary>
public sealed class FailureLog(TableClient table)
{
    private const string Partition = "failure";

    /// <summary>Records <paramref name="failure"/>; a poisoning of an image poisoned before counts one attempt more.</summary>
    public async Task RecordAsync(FailureRecord failure, CancellationToken cancellationToken = default)
    {
        var attempts = failure.Attempts;
        if (failure.Stage == FailureStage.Poison && await FindAsync(failure.BlobName, cancellationToken) is { Stage: FailureStage.Poison } before)
            attempts = before.Attempts + 1;
        var entity = new TableEntity(Partition, ImageId.FromBlobName(failure.BlobName).ToString())
        {
            ["BlobName"] = failure.BlobName,
            ["Stage"] = failure.Stage.ToString(),
            ["Reason"] = failure.Reason.Length > 1000 ? failure.Reason[..1000] : failure.Reason,
            ["At"] = failure.At,
            ["ETag"] = failure.ETag,
            ["Attempts"] = attempts,
        };
        await table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<FailureRecord?> FindAsync(string blobName, CancellationToken cancellationToken = default)
    {
        var row = await table.GetEntityIfExistsAsync<TableEntity>(Partition, ImageId.FromBlobName(blobName).ToString(), cancellationToken: cancellationToken);
        return row.HasValue && row.Value is { } e ? ToRecord(e) : null;
    }

    /// <summary>Every record; a row this version cannot read (an unknown stage, a missing name) is left out, not thrown.</summary>
    public async Task<IReadOnlyList<FailureRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var list = new List<FailureRecord>();
        await foreach (var e in table.QueryAsync<TableEntity>(x => x.PartitionKey == Partition, cancellationToken: cancellationToken))
            if (ToRecord(e) is { } record) list.Add(record);
        return list;
    }

    private static FailureRecord? ToRecord(TableEntity e) =>
        e.GetString("BlobName") is { Length: > 0 } name && Enum.TryParse<FailureStage>(e.GetString("Stage"), out var stage) && Enum.IsDefined(stage)
            ? new(name, stage, e.GetString("Reason") ?? "", e.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue, e.GetString("ETag"),
                e.GetInt32("Attempts") ?? 1)
            : null;
}
