using System.Runtime.CompilerServices;
using Dpq.Formats;
using Dpq.Indexing;

namespace Dpq.Query;

/// <summary>
/// One segment's items by image id (segments list items by blob name, and an id is a hash of it): sorted ids
/// with their items, made on the first lookup and kept while the segment is. Sealed segments outlive many
/// snapshots, so a host builds this once per compaction, not once per query.
/// </summary>
public sealed class ImageIdIndex
{
    private static readonly ConditionalWeakTable<ShardSegment, ImageIdIndex> Indexes = new();

    private readonly UInt128[] _ids;
    private readonly int[] _items;

    private ImageIdIndex(ShardSegment segment)
    {
        _ids = new UInt128[segment.Count];
        _items = new int[segment.Count];
        for (var i = 0; i < segment.Count; i++) (_ids[i], _items[i]) = (ImageId.FromBlobName(segment.Ids[i]).Value, i);
        Array.Sort(_ids, _items);
    }

    public static ImageIdIndex Of(ShardSegment segment) => Indexes.GetValue(segment, s => new ImageIdIndex(s));

    /// <summary>The item of <paramref name="id"/>, or -1.</summary>
    public int Find(ImageId id)
    {
        var at = Array.BinarySearch(_ids, id.Value);
        return at >= 0 ? _items[at] : -1;
    }
}
