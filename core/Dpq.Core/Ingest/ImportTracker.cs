using Dpq.Indexing;

namespace Dpq.Ingest;

/// <summary>Where the images of an import stand: indexed (their row holds the uploaded version), refused by the worker, or still on their way.</summary>
public sealed record ImportStatus(IReadOnlyList<string> Indexed, IReadOnlyList<FailureRecord> Failed, IReadOnlyList<UploadedBlob> Pending);

/// <summary>
/// Follows the blobs an import stored until the worker has indexed or refused each: a row of the model
/// version whose source ETag is the uploaded one, or a failure record written since the import began.
/// </summary>
public sealed class ImportTracker(IndexStore store, FailureLog failures, string modelVersion, DateTimeOffset since)
{
    /// <summary>How far the worker's clock may be behind this one: a failure record stamped that much before the import still counts as its own.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);


    public async Task<ImportStatus> CheckAsync(IReadOnlyCollection<UploadedBlob> blobs, CancellationToken cancellationToken = default)
    {
        var index = await store.OpenAsync(modelVersion, cancellationToken);
        var indexed = new System.Collections.Concurrent.ConcurrentBag<string>();
        var failed = new System.Collections.Concurrent.ConcurrentBag<FailureRecord>();
        var pending = new System.Collections.Concurrent.ConcurrentBag<UploadedBlob>();
        await Parallel.ForEachAsync(blobs, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (blob, ct) =>
        {
            var name = ImageLocation.ForImport(blob.Name);
            if (index is not null && await index.Rows.FindAsync(ImageId.FromBlobName(name), ct) is { } row && row.SourceETag == blob.ETag)
            {
                indexed.Add(name);
                return;
            }
            if (await failures.FindAsync(name, ct) is { } failure && failure.At >= since - ClockSkew)
            {
                failed.Add(failure);
                return;
            }
            pending.Add(blob);
        });
        return new ImportStatus([.. indexed], [.. failed], [.. pending]);
    }
}
