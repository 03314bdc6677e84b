using Dpq.Imaging;

namespace Dpq.Ingest;

/// <summary>What the blob trigger checks before it asks for an upload to be encoded.</summary>
public sealed record UploadPolicy
{
    public long MaxBytes { get; init; } = ImageLimits.Default.MaxBytes;
    public int MaxNameLength { get; init; } = 512;
    public IReadOnlySet<string> Extensions { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg" };
    public IReadOnlySet<string> ContentTypes { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "image/png", "image/jpeg", "application/octet-stream",
    };

    public static UploadPolicy Default { get; } = new();

    /// <summary>Null when the upload may be encoded; otherwise the reason it may not.</summary>
    public string? Check(string blobName, long length, string? contentType)
    {
        if (CheckName(blobName) is { } problem) return problem;
        if (length <= 0) return "the blob is empty";
        if (length > MaxBytes) return $"the blob has {length} bytes; the limit is {MaxBytes}";
        if (!string.IsNullOrEmpty(contentType) && !ContentTypes.Contains(contentType.Split(';')[0].Trim()))
            return $"content type '{contentType}' is not an accepted image type";
        return null;
    }

    /// <summary>Null when the name is acceptable; otherwise why it is not.</summary>
    public string? CheckName(string blobName)
    {
        if (string.IsNullOrWhiteSpace(blobName)) return "the blob name is empty";
        if (blobName.Length > MaxNameLength) return $"the blob name has {blobName.Length} characters; the limit is {MaxNameLength}";
        if (blobName.Any(char.IsControl)) return "the blob name contains control characters";
        if (!Extensions.Contains(Path.GetExtension(blobName))) return $"'{Path.GetExtension(blobName)}' is not an accepted image extension ({string.Join(", ", Extensions.Order())})";
        return null;
    }
}
