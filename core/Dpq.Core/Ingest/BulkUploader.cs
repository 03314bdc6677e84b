using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Dpq.Data;
using Dpq.Imaging;

namespace Dpq.Ingest;

/// <summary>How far a bulk upload has come.</summary>
public readonly record struct UploadProgress(int Done, int Total, int Skipped);

/// <summary>A blob a bulk upload stored.</summary>
public sealed record UploadedBlob(string Name, string ETag, long Length);

/// <summary>
/// Uploads images of a data set as PNG blobs with their class as metadata "label", many at a time.
/// A blob that already exists is skipped (a conditional create), so a repeated upload neither
/// duplicates nor re-triggers work.
/// </summary>
public static class BulkUploader
{
    /// <param name="onUploaded">Called once for each blob stored (not for skipped ones), from the upload's own task.</param>
    public static async Task<IReadOnlyList<UploadedBlob>> UploadAsync(BlobContainerClient container, ImageSet images, IReadOnlyList<int> indices,
        Func<int, string> blobName, int parallelism, IProgress<UploadProgress>? progress,
        Func<UploadedBlob, CancellationToken, ValueTask>? onUploaded = null, CancellationToken cancellationToken = default)
    {
        var uploaded = new System.Collections.Concurrent.ConcurrentBag<UploadedBlob>();
        int done = 0, skipped = 0;
        await Parallel.ForEachAsync(indices, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (index, ct) =>
        {
            var name = blobName(index);
            var png = ImagePreprocessor.EncodePng(images, index);
            var options = new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = "image/png" },
                Metadata = new Dictionary<string, string> { ["label"] = Indexing.ClassLabel.ToMetadata(images.ClassNameOf(index)) },
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
            };
            try
            {
                var info = await container.GetBlobClient(name).UploadAsync(BinaryData.FromBytes(png), options, ct);
                var blob = new UploadedBlob(name, info.Value.ETag.ToString(), png.Length);
                uploaded.Add(blob);
                if (onUploaded is not null) await onUploaded(blob, ct);
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                Interlocked.Increment(ref skipped);
            }
            var n = Interlocked.Increment(ref done);
            progress?.Report(new UploadProgress(n, indices.Count, Volatile.Read(ref skipped)));
        });
        return [.. uploaded];
    }
}
