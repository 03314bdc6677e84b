using Dpq.Formats;

namespace Dpq.Indexing;

/// <summary>
/// One model version's index in storage, with its fixed layout: the code rows (looked up by id, the
/// record every segment file can be rebuilt from), the segment catalog and the segment files (what the
/// query side scans). Made by <see cref="IndexStore"/>; versions never share a row or a file.
/// </summary>
public sealed class VersionIndex
{
    internal VersionIndex(string modelVersion, IndexLayout layout, CodeTable rows, SegmentCatalog catalog, SegmentStore files)
    {
        (ModelVersion, Layout, Rows, Catalog, Files) = (modelVersion, layout, rows, catalog, files);
    }

    public string ModelVersion { get; }
    public IndexLayout Layout { get; }
    public int ShardCount => Layout.ShardCount;
    /// <summary>The version's code format; null for a version written before formats were recorded (its next write records it).</summary>
    public CodeFormat? Format => Layout.Format;
    public CodeTable Rows { get; }
    public SegmentCatalog Catalog { get; }
    public SegmentStore Files { get; }

    /// <summary>The shard of <paramref name="blobName"/>'s image in this version.</summary>
    public int ShardOf(string blobName) => ImageId.FromBlobName(blobName).Shard(ShardCount);
}
