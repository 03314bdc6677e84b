using Dpq.Storage;

namespace Dpq.Indexing;

/// <summary>
/// The index names every image with one string, its index name: the blob name for an upload to
/// the images container, and "imports/" + the blob name for a bulk import into the imports
/// container. Rows, image ids, failure records and query answers all use the index name; only the
/// worker's download and the reconciler's listing need the container back.
/// </summary>
public static class ImageLocation
{
    /// <summary>Index names under this prefix are imports; uploads may not use it.</summary>
    public const string ImportsPrefix = "imports/";

    public static string ForImport(string blobName) => ImportsPrefix + blobName;

    public static bool IsImport(string indexName) => indexName.StartsWith(ImportsPrefix, StringComparison.Ordinal);

    /// <summary>
    /// The index name of a blob of the images or imports container. An upload under the reserved
    /// prefix cannot be indexed; its name is "{container}/{blob}", the key its refusal is recorded
    /// under, which can never be an imported image's name.
    /// </summary>
    public static string IndexName(StorageNames names, string container, string blobName) =>
        container == names.ImportsContainer ? ForImport(blobName)
        : container == names.ImagesContainer && IsImport(blobName) ? $"{container}/{blobName}"
        : blobName;

    /// <summary>The container and blob name behind an index name.</summary>
    public static (string Container, string BlobName) Locate(StorageNames names, string indexName) =>
        IsImport(indexName) ? (names.ImportsContainer, indexName[ImportsPrefix.Length..]) : (names.ImagesContainer, indexName);

    /// <summary>Every blob of the images and imports containers, by index name: what the reconciler and the backfill compare with an index.</summary>
    public static async Task<Dictionary<string, (string Container, Azure.Storage.Blobs.Models.BlobItem Blob)>> ListStoredAsync(StorageClients storage,
        CancellationToken cancellationToken = default)
    {
        var blobs = new Dictionary<string, (string, Azure.Storage.Blobs.Models.BlobItem)>(StringComparer.Ordinal);
        foreach (var container in new[] { storage.Names.ImagesContainer, storage.Names.ImportsContainer })
            await foreach (var blob in storage.Container(container).GetBlobsAsync(cancellationToken: cancellationToken))
                blobs[IndexName(storage.Names, container, blob.Name)] = (container, blob);
        return blobs;
    }
}
