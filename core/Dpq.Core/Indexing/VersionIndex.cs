namespace Dpq.Indexing;

/// <summary>
/// One model version's index in storage, with its fixed shard count: the code rows (looked up by id,
/// the record every segment file can be rebuilt from), the segment catalog and the segment files
/// (what the query side scans). Made by <see cref="IndexStore"/>; versions never share a row or a file.
/// </summary>
public sealed class VersionIndex
{
    internal VersionIndex(string modelVersion, int shardCount, CodeTable rows, SegmentCatalog catalog, SegmentStore files)
    {
        (ModelVersion, ShardCount, Rows, Catalog, Files) = (modelVersion, shardCount, rows, catalog, files);
    }

    public string ModelVersion { get; }
    public int ShardCount { get; }
    public CodeTable Rows { get; }
    public SegmentCatalog Catalog { get; }
    public SegmentStore Files { get; }

    /// <summary>The shard of <paramref name="blobName"/>'s image in this version.</summary>
    public int ShardOf(string blobName) => ImageId.FromBlobName(blobName).Shard(ShardCount);
}
