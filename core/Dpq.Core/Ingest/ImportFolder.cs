using Dpq.Imaging;
using Dpq.Indexing;

namespace Dpq.Ingest;

/// <summary>How an imported folder tree names classes: not at all, or by the first subfolder under the root.</summary>
public enum FolderLabels { None, Folders }

/// <summary>A file to import: where it is, the blob name it gets, its class and content type.</summary>
public sealed record ImportFile(string Path, string Name, string? Label, string ContentType, long Length);

/// <summary>A file that will not be imported, and why.</summary>
public sealed record RefusedFile(string Path, string Reason);

/// <summary>What a folder import will upload and what it refuses before uploading anything.</summary>
public sealed record ImportPlan(IReadOnlyList<ImportFile> Files, IReadOnlyList<RefusedFile> Refused);

/// <summary>
/// Plans the import of a folder tree: each file's blob name is the prefix plus its path below the root
/// ('/'-separated), its class the first subfolder's name (with <see cref="FolderLabels.Folders"/>).
/// Everything intake or the worker would refuse for certain is refused here with the reason, before an
/// upload: a name storage would rewrite, another extension, an invalid class name, a file too large,
/// a header that is not one of the accepted formats or claims too many pixels. Hidden files and folders
/// (names starting with '.') are left out silently. Files are in ordinal order of their names.
/// </summary>
public static class ImportFolder
{
    /// <summary>Bytes read to check a header: enough for a JPEG's metadata before its frame; a file whose header lies further is read whole.</summary>
    private const int HeaderBytes = 256 * 1024;

    public static ImportPlan Scan(string root, FolderLabels labels, string? prefix = null, UploadPolicy? policy = null, ImageLimits? limits = null)
    {
        policy ??= UploadPolicy.Default;
        var checker = new ImagePreprocessor(1, 1, limits ?? ImageLimits.Default);
        root = Path.GetFullPath(root);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"no folder {root}");
        var namePrefix = string.IsNullOrEmpty(prefix?.Trim('/')) ? "" : prefix.Trim('/') + "/";
        if (namePrefix.Length > 1 && policy.CheckName(namePrefix + "x.png") is { } badPrefix)
            throw new ArgumentException($"prefix '{prefix}' cannot start a blob name: {badPrefix}", nameof(prefix));

        var files = new List<ImportFile>();
        var refused = new List<RefusedFile>();
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.System };
        foreach (var path in Directory.EnumerateFiles(root, "*", options))
        {
            var relative = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
            var parts = relative.Split('/');
            if (parts.Any(p => p.StartsWith('.'))) continue;
            var name = namePrefix + relative;
            if (Refusal(path, name, parts, labels, policy, checker) is { } reason)
            {
                refused.Add(new RefusedFile(path, reason));
                continue;
            }
            var label = labels == FolderLabels.Folders ? parts[0] : null;
            files.Add(new ImportFile(path, name, label, ContentType(name), LengthOf(path)));
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        refused.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return new ImportPlan(files, refused);
    }

    private static string? Refusal(string path, string name, string[] parts, FolderLabels labels, UploadPolicy policy, ImagePreprocessor checker)
    {
        if (policy.CheckName(name) is { } badName) return badName;
        if (labels == FolderLabels.Folders)
        {
            if (parts.Length < 2) return "not in a class folder: with --labels folders each image sits in a folder named by its class";
            if (ClassLabel.Check(parts[0]) is { } badLabel) return $"its folder is not a class name: {badLabel}";
        }
        long length;
        try
        {
            length = LengthOf(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the file cannot be read: {e.Message}";
        }
        if (length == 0) return "the file is empty";
        if (length > policy.MaxBytes) return $"the file has {length} bytes; the limit is {policy.MaxBytes}";
        try
        {
            checker.Check(ReadHead(path, HeaderBytes));
        }
        catch (ImageRejectedException) when (length > HeaderBytes)
        {
            try
            {
                checker.Check(File.ReadAllBytes(path));
            }
            catch (ImageRejectedException e)
            {
                return e.Reason;
            }
        }
        catch (ImageRejectedException e)
        {
            return e.Reason;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the file cannot be read: {e.Message}";
        }
        return null;
    }

    /// <summary>The file's length; a link that points nowhere is an error here, not a zero-length file.</summary>
    private static long LengthOf(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : throw new FileNotFoundException($"{path} does not exist (a broken link?)", path);
    }

    private static byte[] ReadHead(string path, int bytes)
    {
        using var file = File.OpenRead(path);
        var head = new byte[(int)Math.Min(bytes, file.Length)];
        file.ReadExactly(head);
        return head;
    }

    /// <summary>The content type intake accepts for the name's extension.</summary>
    public static string ContentType(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        ".bmp" => "image/bmp",
        _ => "application/octet-stream",
    };

    /// <summary>The plan's files as uploads, each read from disk when its turn comes.</summary>
    public static IReadOnlyList<UploadItem> Items(ImportPlan plan) =>
        [.. plan.Files.Select(f => new UploadItem(f.Name, f.Label, f.ContentType, async ct => BinaryData.FromBytes(await File.ReadAllBytesAsync(f.Path, ct))))];
}
