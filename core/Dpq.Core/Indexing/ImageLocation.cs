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

    /// <summary>The container and blob name behind an index name.</summary>
    public static (string Container, string BlobName) Locate(StorageNames names, string indexName) =>
        IsImport(indexName) ? (names.ImportsContainer, indexName[ImportsPrefix.Length..]) : (names.ImagesContainer, indexName);
}
