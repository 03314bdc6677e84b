using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Dpq.Data;
using Dpq.Imaging;
using Dpq.Indexing;

namespace Dpq.Ingest;

/// <summary>How far a bulk upload has come.</summary>
public readonly record struct UploadProgress(int Done, int Total, int Skipped);

/// <summary>A blob a bulk upload stored.</summary>
public sealed record UploadedBlob(string Name, string ETag, long Length);

/// <summary>One file to upload: its blob name, class (a <see cref="ClassLabel"/>, or null), content type and bytes, read when its turn comes.</summary>
public sealed record UploadItem(string Name, string? Label, string ContentType, Func<CancellationToken, Task<BinaryData>> Read);

/// <summary>
/// Uploads images with their class as metadata "label", many at a time. A blob that already exists is
/// skipped (a conditional create), so a repeated upload neither duplicates nor re-triggers work.
/// </summary>
public static class BulkUploader
{
    /// <summary>Images of a data set, as PNG files named by <paramref name="blobName"/>.</summary>
    public static IReadOnlyList<UploadItem> Items(ImageSet images, IReadOnlyList<int> indices, Func<int, string> blobName) =>
        [.. indices.Select(index => new UploadItem(blobName(index), images.ClassNameOf(index), "image/png",
            _ => Task.FromResult(BinaryData.FromBytes(ImagePreprocessor.EncodePng(images, index)))))];

    public static Task<IReadOnlyList<UploadedBlob>> UploadAsync(BlobContainerClient container, ImageSet images, IReadOnlyList<int> indices,
        Func<int, string> blobName, int parallelism, IProgress<UploadProgress>? progress,
        Func<UploadedBlob, CancellationToken, ValueTask>? onUploaded = null, CancellationToken cancellationToken = default) =>
        UploadAsync(container, Items(images, indices, blobName), parallelism, progress, onUploaded, cancellationToken);

    /// <param name="onUploaded">Called once for each blob stored (not for skipped ones), from the upload's own task.</param>
    public static async Task<IReadOnlyList<UploadedBlob>> UploadAsync(BlobContainerClient container, IReadOnlyList<UploadItem> items,
        int parallelism, IProgress<UploadProgress>? progress,
        Func<UploadedBlob, CancellationToken, ValueTask>? onUploaded = null, CancellationToken cancellationToken = default)
    {
        var uploaded = new System.Collections.Concurrent.ConcurrentBag<UploadedBlob>();
        int done = 0, skipped = 0;
        await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (item, ct) =>
        {
            var options = new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = item.ContentType },
                Metadata = item.Label is { } label ? new Dictionary<string, string> { ["label"] = ClassLabel.ToMetadata(label) } : null,
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
            };
            try
            {
                var content = await item.Read(ct);
                var info = await container.GetBlobClient(item.Name).UploadAsync(content, options, ct);
                var blob = new UploadedBlob(item.Name, info.Value.ETag.ToString(), content.ToMemory().Length);
                uploaded.Add(blob);
                if (onUploaded is not null) await onUploaded(blob, ct);
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                Interlocked.Increment(ref skipped);
            }
            var n = Interlocked.Increment(ref done);
            progress?.Report(new UploadProgress(n, items.Count, Volatile.Read(ref skipped)));
        });
        return [.. uploaded];
    }
}
