using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dpq.Ingest;

/// <summary>
/// The queue message asking the worker to encode one uploaded image. <see cref="RequestId"/> is
/// derived from the blob name and ETag, so a duplicate notification for the same upload carries
/// the same id and a new upload under the same name a new one.
/// </summary>
public sealed record EncodeRequest(string RequestId, string BlobName, string? ETag, long Length, DateTimeOffset EnqueuedAt)
{
    public static EncodeRequest For(string blobName, string? etag, long length, DateTimeOffset now) =>
        new(IdFor(blobName, etag), blobName, etag, length, now);

    public static string IdFor(string blobName, string? etag) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{blobName}\n{etag}")))[..32];

    public string ToJson() => JsonSerializer.Serialize(this, IngestJson.Default.EncodeRequest);

    /// <summary>Parses a message body; a malformed one throws <see cref="FormatException"/> with the reason.</summary>
    public static EncodeRequest Parse(string json)
    {
        EncodeRequest? r;
        try
        {
            r = JsonSerializer.Deserialize(json, IngestJson.Default.EncodeRequest);
        }
        catch (JsonException e)
        {
            throw new FormatException($"the encode request is not valid JSON: {e.Message}", e);
        }
        if (r is null || string.IsNullOrEmpty(r.BlobName) || string.IsNullOrEmpty(r.RequestId))
            throw new FormatException("the encode request has no blob name or request id");
        return r;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(EncodeRequest))]
internal sealed partial class IngestJson : JsonSerializerContext;
