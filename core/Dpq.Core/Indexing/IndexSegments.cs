using Dpq.Formats;

namespace Dpq.Indexing;

/// <summary>Building index segments: from stored images (a write's delta) and by merging segments (compaction, the query side's tail).</summary>
public static class IndexSegments
{
    /// <summary>Label byte of images without a label; label filters never match it.</summary>
    public const byte NoLabel = ShardSegmentFormat.NoLabel;

    /// <summary>A segment of <paramref name="images"/>, codes packed for <paramref name="format"/>; of two images with one name the later wins.</summary>
    public static ShardSegment FromImages(CodeFormat format, string modelVersion, IEnumerable<IndexedImage> images)
    {
        var latest = new Dictionary<string, IndexedImage>(StringComparer.Ordinal);
        foreach (var image in images) latest[image.BlobName] = image;
        var builder = new ShardSegmentBuilder(format, modelVersion, withCopyCodes: latest.Values.Any(i => i.CopyCode is not null));
        var kept = KeptLabels(latest.Values.Select(i => i.Label));
        Span<int> levels = stackalloc int[format.Levels];
        var packed = new byte[format.BytesPerCode];
        foreach (var image in latest.Values)
        {
            if (image.Code.Length != format.Levels)
                throw new InvalidDataException($"the code of {image.BlobName} has {image.Code.Length} levels; model {modelVersion} has {format.Levels}");
            for (var l = 0; l < levels.Length; l++) levels[l] = image.Code[l];
            format.Pack(levels, packed);
            builder.Add(image.BlobName, packed, Kept(kept, image.Label), image.CopyCode);
        }
        return builder.Build();
    }

    /// <summary>One segment holding the items of <paramref name="oldestFirst"/>; an id in several segments keeps its item from the last of them.</summary>
    public static ShardSegment Merge(CodeFormat format, string modelVersion, IReadOnlyList<ShardSegment> oldestFirst) =>
        MergeItems(format, modelVersion, oldestFirst.SelectMany(Items));

    /// <summary>Every item of <paramref name="segment"/>, in order.</summary>
    public static IEnumerable<SegmentItem> Items(ShardSegment segment) =>
        Enumerable.Range(0, segment.Count).Select(i => new SegmentItem(segment, i, segment.Ids[i]));

    /// <summary>One segment of the items <paramref name="oldestFirst"/> names; of several items with one id the last wins.
    /// It holds copy codes when any input segment does (items from segments without them get none).</summary>
    public static ShardSegment MergeItems(CodeFormat format, string modelVersion, IEnumerable<SegmentItem> oldestFirst)
    {
        var latest = new Dictionary<string, SegmentItem>(StringComparer.Ordinal);
        foreach (var item in oldestFirst)
        {
            if (item.Segment.ModelVersion != modelVersion || item.Segment.Format != format)
                throw new InvalidDataException($"cannot merge a segment of {item.Segment.ModelVersion} ({item.Segment.Format}) into {modelVersion} ({format})");
            latest[item.Id] = item;
        }
        var builder = new ShardSegmentBuilder(format, modelVersion, withCopyCodes: latest.Values.Any(i => i.Segment.HasCopyCodes));
        var kept = KeptLabels(latest.Values.Select(i => i.Segment.LabelOf(i.Item)));
        var packed = new byte[format.BytesPerCode];
        foreach (var (id, item) in latest)
        {
            item.Segment.CopyCode(item.Item, packed);
            builder.Add(id, packed, Kept(kept, item.Segment.LabelOf(item.Item)), item.Segment.CopyCodeOf(item.Item));
        }
        return builder.Build();
    }

    /// <summary>
    /// The class names a segment of these items can hold: all of them, or past <see cref="ShardSegmentFormat.MaxLabelNames"/>
    /// the first that many in ordinal order (null: all). Items of the others are stored without a class, so the index
    /// keeps working and stays searchable; filters miss those items, and their rows keep the name.
    /// </summary>
    private static HashSet<string>? KeptLabels(IEnumerable<string?> labels)
    {
        var names = labels.OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        return names.Count <= ShardSegmentFormat.MaxLabelNames ? null
            : names.Order(StringComparer.Ordinal).Take(ShardSegmentFormat.MaxLabelNames).ToHashSet(StringComparer.Ordinal);
    }

    private static string? Kept(HashSet<string>? kept, string? label) => kept is null || label is null || kept.Contains(label) ? label : null;
}

/// <summary>Item <paramref name="Item"/> of <paramref name="Segment"/>, whose id is <paramref name="Id"/>.</summary>
public readonly record struct SegmentItem(ShardSegment Segment, int Item, string Id);
