using Dpq.Formats;

namespace Dpq.Indexing;

/// <summary>
/// Building index segments: from stored images (a write's delta) and by merging segments (compaction, the query side's tail).
/// An index is layers read oldest first (sealed segments, then deltas): an id's last event decides it, an item (which
/// replaces earlier ones) or a removal (which hides them; a later item brings the id back).
/// </summary>
public static class IndexSegments
{
    /// <summary>Label byte of images without a label; label filters never match it.</summary>
    public const byte NoLabel = ShardSegmentFormat.NoLabel;

    /// <summary>A segment of <paramref name="images"/>, codes packed for <paramref name="format"/>; of two images with one name the later wins.</summary>
    public static ShardSegment FromImages(CodeFormat format, string modelVersion, IEnumerable<IndexedImage> images) =>
        FromImages(format, modelVersion, images, []);

    /// <summary>
    /// A delta that adds <paramref name="images"/> (as above) and removes <paramref name="removedIds"/>, hiding every earlier
    /// item of those ids. An id both among the images and removed throws <see cref="ArgumentException"/>: the caller decides which came last.
    /// </summary>
    public static ShardSegment FromImages(CodeFormat format, string modelVersion, IEnumerable<IndexedImage> images, IEnumerable<string> removedIds)
    {
        var latest = new Dictionary<string, IndexedImage>(StringComparer.Ordinal);
        foreach (var image in images) latest[image.BlobName] = image;
        var builder = new ShardSegmentBuilder(format, modelVersion, withCopyCodes: latest.Values.Any(i => i.CopyCode is not null));
        // Removals first: the builder then checks each image against them without a set of every image's id.
        foreach (var id in removedIds) builder.Remove(id);
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

    /// <summary>
    /// One segment holding the items of <paramref name="oldestFirst"/>; an id in several segments keeps its item from the last of them.
    /// Their removals apply and are kept, as <see cref="Merge(CodeFormat, string, IReadOnlyList{ShardSegment}, bool)"/> with keepRemovals true.
    /// </summary>
    public static ShardSegment Merge(CodeFormat format, string modelVersion, IReadOnlyList<ShardSegment> oldestFirst) =>
        Merge(format, modelVersion, oldestFirst, keepRemovals: true);

    /// <summary>
    /// One segment that stands for <paramref name="oldestFirst"/> read in order: each id's last event decides it (see
    /// <see cref="MergeItems(CodeFormat, string, IEnumerable{SegmentEvent}, bool)"/>). <paramref name="keepRemovals"/>: true for a
    /// result read above older layers (the query side's tail of deltas), false for the base layer (compaction), which has nothing to hide.
    /// </summary>
    public static ShardSegment Merge(CodeFormat format, string modelVersion, IReadOnlyList<ShardSegment> oldestFirst, bool keepRemovals)
    {
        // Also the segments that only remove: their events carry no segment to check.
        foreach (var segment in oldestFirst) CheckSameModel(segment, format, modelVersion);
        return MergeItems(format, modelVersion, oldestFirst.SelectMany(Events), keepRemovals);
    }

    /// <summary>Every item of <paramref name="segment"/>, in order.</summary>
    public static IEnumerable<SegmentItem> Items(ShardSegment segment) =>
        Enumerable.Range(0, segment.Count).Select(i => new SegmentItem(segment, i, segment.Ids[i]));

    /// <summary>
    /// Every removal of <paramref name="segment"/>, then every item, as events for
    /// <see cref="MergeItems(CodeFormat, string, IEnumerable{SegmentEvent}, bool)"/> (no id is both, so their order does not matter).
    /// </summary>
    public static IEnumerable<SegmentEvent> Events(ShardSegment segment) =>
        Enumerable.Range(0, segment.RemovedIds.Count).Select(i => SegmentEvent.Removed(segment.RemovedIds[i]))
            .Concat(Items(segment).Select(SegmentEvent.Added));

    /// <summary>One segment of the items <paramref name="oldestFirst"/> names; of several items with one id the last wins.
    /// It holds copy codes when any input segment does (items from segments without them get none).</summary>
    public static ShardSegment MergeItems(CodeFormat format, string modelVersion, IEnumerable<SegmentItem> oldestFirst) =>
        MergeItems(format, modelVersion, oldestFirst.Select(SegmentEvent.Added), keepRemovals: false);

    /// <summary>
    /// One segment of the events <paramref name="oldestFirst"/> (items and removals, e.g. one shard's of its sealed segments
    /// and then of the deltas in order): an id whose last event is an item holds that item; one whose last event is a
    /// removal holds none, and is removed by the result when <paramref name="keepRemovals"/> (the result sits above
    /// older layers), dropped otherwise (the result is the base layer). Copy codes as in the overload for items.
    /// </summary>
    public static ShardSegment MergeItems(CodeFormat format, string modelVersion, IEnumerable<SegmentEvent> oldestFirst, bool keepRemovals)
    {
        var latest = new Dictionary<string, SegmentItem?>(StringComparer.Ordinal);
        foreach (var e in oldestFirst)
        {
            if (e.Item is { } item) CheckSameModel(item.Segment, format, modelVersion);
            latest[e.Id] = e.Item;
        }
        var items = new List<SegmentItem>(latest.Count);
        var removed = new List<string>();
        foreach (var (id, last) in latest)
            if (last is { } item) items.Add(item); else removed.Add(id);
        var builder = new ShardSegmentBuilder(format, modelVersion, withCopyCodes: items.Any(i => i.Segment.HasCopyCodes));
        // Removals first: the builder then checks each item against them without a set of every item's id.
        if (keepRemovals)
            foreach (var id in removed) builder.Remove(id);
        var kept = KeptLabels(items.Select(i => i.Segment.LabelOf(i.Item)));
        var packed = new byte[format.BytesPerCode];
        foreach (var item in items)
        {
            item.Segment.CopyCode(item.Item, packed);
            builder.Add(item.Id, packed, Kept(kept, item.Segment.LabelOf(item.Item)), item.Segment.CopyCodeOf(item.Item));
        }
        return builder.Build();
    }

    private static void CheckSameModel(ShardSegment segment, CodeFormat format, string modelVersion)
    {
        if (segment.ModelVersion != modelVersion || segment.Format != format)
            throw new InvalidDataException($"cannot merge a segment of {segment.ModelVersion} ({segment.Format}) into {modelVersion} ({format})");
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

/// <summary>One step in the history of an id read oldest first: it has <see cref="Item"/> from here on, or (null) it is removed.</summary>
public readonly record struct SegmentEvent
{
    private SegmentEvent(string id, SegmentItem? item)
    {
        Id = id;
        Item = item;
    }

    public string Id { get; }

    /// <summary>The item that replaces the id's earlier ones; null: the id is removed.</summary>
    public SegmentItem? Item { get; }

    public static SegmentEvent Added(SegmentItem item) => new(item.Id, item);

    public static SegmentEvent Removed(string id) => new(id, null);
}
