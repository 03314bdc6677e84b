using Dpq.Imaging;

namespace Dpq.Ingest;

/// <summary>What the blob trigger checks before it asks for an upload to be encoded.</summary>
public sealed record UploadPolicy
{
    public long MaxBytes { get; init; } = ImageLimits.Default.MaxBytes;
    public int MaxNameLength { get; init; } = 512;
    public IReadOnlySet<string> Extensions { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp" };
    public IReadOnlySet<string> ContentTypes { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/x-ms-bmp", "application/octet-stream",
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
        // Names that storage or a URL would rewrite could index one image under two names.
        if (blobName.Contains('\\')) return "the blob name contains a backslash, which storage may read as a folder separator";
        var segments = blobName.Split('/');
        if (segments.Any(s => s.Length == 0)) return "the blob name has an empty folder segment (a leading, doubled or trailing '/')";
        if (segments.Any(s => s is "." or "..")) return "the blob name has a '.' or '..' segment";
        if (segments.Any(s => s.EndsWith('.') || s.EndsWith(' '))) return "a part of the blob name ends with a dot or a space, which storage drops";
        if (!Extensions.Contains(Path.GetExtension(blobName))) return $"'{Path.GetExtension(blobName)}' is not an accepted image extension ({string.Join(", ", Extensions.Order())})";
        return null;
    }
}
