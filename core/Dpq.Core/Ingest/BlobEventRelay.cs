using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Queues.Models;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>
/// Turns the BlobDeleted events Event Grid delivers to the blob-events queue into removal requests
/// (<see cref="UploadIntake.HandleDeletedAsync"/>), so a deleted image leaves every version's index
/// within seconds in Azure. Event Grid writes each event as JSON (Event Grid schema), as plain text or
/// Base64; both are read. A message that is neither goes to the poison queue as it came and leaves
/// the queue; the others received with it go on. Other event types are acknowledged and ignored.
/// </summary>
public sealed class BlobEventRelay(StorageClients storage, UploadIntake intake, ILogger<BlobEventRelay> logger)
{
    public const string BlobDeleted = "Microsoft.Storage.BlobDeleted";

    private Azure.Storage.Queues.QueueClient? _queue;

    /// <summary>One receive of up to 32 events; returns how many messages were handled.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var queue = _queue ??= storage.RawQueue(storage.Names.BlobEventsQueue);
        QueueMessage[] messages = await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(60), cancellationToken);
        foreach (var message in messages)
        {
            var text = message.Body.ToString();
            if (Parse(text) is not { } deleted)
            {
                logger.LogError("Blob event {MessageId} is not an Event Grid event; it goes to the poison queue", message.MessageId);
                await storage.RawQueue(storage.Names.BlobEventsPoisonQueue).SendMessageAsync(text, cancellationToken);
            }
            else
            {
                foreach (var (container, blobName) in deleted) await intake.HandleDeletedAsync(container, blobName, cancellationToken);
            }
            try
            {
                await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            }
            catch (RequestFailedException e) when (EncodeQueueDrainer.IsLostLease(e))
            {
                // Another relay holds it now; a second removal request is harmless.
            }
        }
        return messages.Length;
    }

    /// <summary>The (container, blob) of every BlobDeleted event in a message; null when it is not Event Grid JSON.</summary>
    public static IReadOnlyList<(string Container, string BlobName)>? Parse(string message)
    {
        var json = message.TrimStart().StartsWith('{') || message.TrimStart().StartsWith('[') ? message : FromBase64(message);
        if (json is null) return null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            var events = doc.RootElement.ValueKind == JsonValueKind.Array ? [.. doc.RootElement.EnumerateArray()] : new[] { doc.RootElement };
            var deleted = new List<(string, string)>();
            foreach (var e in events)
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("eventType", out var type) || !e.TryGetProperty("subject", out var subject)) return null;
                if (type.GetString() != BlobDeleted) continue;
                if (BlobOf(subject.GetString()) is not { } blob) return null;
                deleted.Add(blob);
            }
            return deleted;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null; // not JSON, or a string JSON cannot hold (a lone surrogate)
        }
    }

    /// <summary>"/blobServices/default/containers/{container}/blobs/{name}", the subject of a blob event.</summary>
    private static (string, string)? BlobOf(string? subject)
    {
        const string Containers = "/blobServices/default/containers/";
        if (subject is null || !subject.StartsWith(Containers, StringComparison.Ordinal)) return null;
        var rest = subject[Containers.Length..];
        var at = rest.IndexOf("/blobs/", StringComparison.Ordinal);
        return at > 0 && at + 7 < rest.Length ? (rest[..at], rest[(at + 7)..]) : null;
    }

    private static string? FromBase64(string text)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(text));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
