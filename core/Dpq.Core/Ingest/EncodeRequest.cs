using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dpq.Ingest;

/// <summary>What a request asks of the worker.</summary>
public enum EncodeAction
{
    /// <summary>Encode the image and store its code.</summary>
    Index,
    /// <summary>
    /// Take the image out of every version's index, if its blob is gone or still holds the version
    /// <see cref="EncodeRequest.ETag"/> names (a refused overwrite); a blob written again since keeps its code.
    /// </summary>
    Remove,
}

/// <summary>
/// A request about one stored image. <see cref="BlobName"/> is the image's index name (see
/// <see cref="Indexing.ImageLocation"/>). <see cref="RequestId"/> is derived from that name, the
/// blob's ETag and what is asked, so a duplicate notification for the same upload carries the same
/// id and a new upload under the same name a new one. <see cref="ModelVersion"/>, when set, limits an
/// index request to that version (a backfill); otherwise it goes to every version that takes writes.
/// <see cref="Attempt"/> counts the times storage faults sent it back (see <see cref="EncodeQueueDrainer"/>).
/// <see cref="TraceParent"/> is the W3C trace context of whoever made it (the upload's), so the worker's
/// spans join that trace; every factory here takes the current one.
/// </summary>
public sealed record EncodeRequest(string RequestId, string BlobName, string? ETag, long Length, DateTimeOffset EnqueuedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault), JsonConverter(typeof(JsonStringEnumConverter<EncodeAction>))]
    EncodeAction Action = EncodeAction.Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ModelVersion = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Attempt = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TraceParent = null)
{
    public static EncodeRequest For(string blobName, string? etag, long length, DateTimeOffset now) =>
        new(IdFor(blobName, etag), blobName, etag, length, now, TraceParent: Telemetry.DpqTelemetry.CurrentTraceParent());

    /// <summary>A request to index the blob for <paramref name="modelVersion"/> only.</summary>
    public static EncodeRequest ForVersion(string blobName, string? etag, long length, DateTimeOffset now, string modelVersion) =>
        new(IdFor(blobName, $"{etag}\n{modelVersion}"), blobName, etag, length, now, ModelVersion: modelVersion, TraceParent: Telemetry.DpqTelemetry.CurrentTraceParent());

    /// <summary>A request to remove the image: its blob was deleted, or the version <paramref name="etag"/> names was refused.</summary>
    public static EncodeRequest Removal(string blobName, string? etag, DateTimeOffset now) =>
        new(IdFor(blobName, $"{etag}\nremove"), blobName, etag, 0, now, EncodeAction.Remove, TraceParent: Telemetry.DpqTelemetry.CurrentTraceParent());

    public static string IdFor(string blobName, string? etag) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{blobName}\n{etag}")))[..32];

    /// <summary>A queue message asking for this one image (what the blob trigger sends).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, IngestJson.Default.EncodeRequest);
}

/// <summary>
/// Encode-queue message bodies. The blob trigger sends one request per message; a bulk import packs
/// many into one (<c>{"requests": [...]}</c>), because each queue call costs the same whatever it
/// carries. The worker accepts both and deletes a message only when all of its requests are done.
/// </summary>
public static class EncodeMessage
{
    /// <summary>Most requests in one message.</summary>
    public const int MaxRequests = 128;

    /// <summary>Largest body: the Queue service takes 64 KiB after Base64, i.e. 48 KiB of text; 1 KiB is left spare.</summary>
    public const int MaxBodyBytes = 47 * 1024;

    /// <summary>Bytes of a packed body before any request: <c>{"requests":[</c> and <c>]}</c>.</summary>
    public const int EmptyBodyBytes = 15;

    /// <summary>Bytes <paramref name="request"/> adds to a packed body (its JSON and a comma).</summary>
    public static int SizeInBody(EncodeRequest request) => System.Text.Encoding.UTF8.GetByteCount(request.ToJson()) + 1;

    /// <summary>One message body for <paramref name="requests"/> (1 to <see cref="MaxRequests"/>).</summary>
    public static string Pack(IReadOnlyList<EncodeRequest> requests)
    {
        if (requests.Count is 0 or > MaxRequests)
            throw new ArgumentOutOfRangeException(nameof(requests), requests.Count, $"a message carries 1 to {MaxRequests} requests");
        var body = JsonSerializer.Serialize(new EncodeMessageBody(requests), IngestJson.Default.EncodeMessageBody);
        var bytes = System.Text.Encoding.UTF8.GetByteCount(body);
        if (bytes > MaxBodyBytes)
            throw new ArgumentException($"{requests.Count} requests take {bytes} bytes; a message holds at most {MaxBodyBytes}", nameof(requests));
        return body;
    }

    /// <summary>The requests in message-sized groups: at most <paramref name="perMessage"/> each, and no more than a body holds.</summary>
    public static IEnumerable<IReadOnlyList<EncodeRequest>> Batches(IEnumerable<EncodeRequest> requests, int perMessage)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(perMessage, MaxRequests);
        var batch = new List<EncodeRequest>(perMessage);
        var bytes = EmptyBodyBytes;
        foreach (var request in requests)
        {
            var size = SizeInBody(request);
            if (batch.Count == perMessage || (batch.Count > 0 && bytes + size > MaxBodyBytes))
            {
                yield return batch;
                (batch, bytes) = (new List<EncodeRequest>(perMessage), EmptyBodyBytes);
            }
            batch.Add(request);
            bytes += size;
        }
        if (batch.Count > 0) yield return batch;
    }

    /// <summary>The requests of a message body; a malformed one throws <see cref="FormatException"/> with the reason.</summary>
    public static IReadOnlyList<EncodeRequest> Parse(string json)
    {
        IReadOnlyList<EncodeRequest?>? requests;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new FormatException("the encode message is not a JSON object");
            requests = doc.RootElement.TryGetProperty("requests", out _)
                ? (IReadOnlyList<EncodeRequest?>?)doc.RootElement.Deserialize(IngestJson.Default.EncodeMessageBody)?.Requests
                : [doc.RootElement.Deserialize(IngestJson.Default.EncodeRequest)];
        }
        catch (JsonException e)
        {
            throw new FormatException($"the encode message is not valid JSON: {e.Message}", e);
        }
        if (requests is null || requests.Count == 0) throw new FormatException("the encode message has no requests");
        if (requests.Count > MaxRequests) throw new FormatException($"the encode message has {requests.Count} requests; the limit is {MaxRequests}");
        foreach (var r in requests)
        {
            if (r is null || string.IsNullOrEmpty(r.BlobName) || string.IsNullOrEmpty(r.RequestId))
                throw new FormatException("an encode request has no blob name or request id");
        }
        return requests!; // no null left, checked above
    }
}

internal sealed record EncodeMessageBody(IReadOnlyList<EncodeRequest> Requests);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(EncodeRequest))]
[JsonSerializable(typeof(EncodeMessageBody))]
internal sealed partial class IngestJson : JsonSerializerContext;
