using System.Text.Json;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>
/// Records uploads whose blob trigger failed so often that the host gave up on them. The host
/// writes a JSON message naming the container and blob to <see cref="QueueName"/>. The trigger fails
/// on storage faults, not on the file (refusals are recorded by intake itself), so the record is a
/// poisoning: the reconciler tries the blob again later.
/// </summary>
public sealed class IntakePoison(FailureLog failures, TimeProvider time, ILogger<IntakePoison> logger)
{
    public const string QueueName = StorageNames.BlobTriggerPoisonQueue;

    public async Task RecordAsync(string message, CancellationToken cancellationToken = default)
    {
        string? blobName = null;
        try
        {
            using var doc = JsonDocument.Parse(message);
            if (doc.RootElement.TryGetProperty("BlobName", out var b)) blobName = b.GetString();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not JSON, or a name that is not valid text (GetString refuses a lone surrogate escape).
        }
        if (string.IsNullOrEmpty(blobName))
        {
            logger.LogError("Unreadable blob-trigger poison message; kept in the log only: {Message}", message);
            return;
        }
        logger.LogError("The upload trigger gave up on {BlobName}", blobName);
        await failures.RecordAsync(
            new FailureRecord(blobName, FailureStage.Poison, "the upload trigger failed repeatedly for this blob", time.GetUtcNow()), cancellationToken);
    }
}
