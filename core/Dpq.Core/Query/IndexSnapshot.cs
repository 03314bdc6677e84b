using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Scan;

namespace Dpq.Query;

/// <summary>
/// The index of one model version as of one catalog read: sealed segments, then the merged deltas
/// (the tail). Hidden lists the sealed items that a tail item of the same id replaces; searches leave
/// them out. SegmentsRead: segment files the refresh that made it downloaded.
/// </summary>
public sealed record IndexSnapshot(string ModelVersion, ImmutableArray<ShardSegment> Segments, ItemExclusions Hidden,
    DateTimeOffset CheckedAt, int SegmentsRead = 0)
{
    // Kept per segments array, outside the record: copies made by `with` share it, equality ignores it,
    // and concurrent first queries get one set (ConditionalWeakTable publishes one value per key).
    private static readonly ConditionalWeakTable<ShardSegment[], CopyViewSet> CopyViewSets = new();

    /// <summary>The copy scan's segments and what it leaves out: the hidden items and every item without a copy code.</summary>
    private sealed class CopyViewSet(ImmutableArray<ShardSegment> views, ItemExclusions? exclude)
    {
        public ImmutableArray<ShardSegment> Views { get; } = views;
        public ItemExclusions? Exclude { get; } = exclude;
    }

    /// <summary>
    /// The segments' copy codes for the copy scan, in segment order (<see cref="ShardSegment.CopyCodesOrMissing"/>);
    /// empty when no segment has any. Made on first use and kept while the segments are.
    /// </summary>
    public ImmutableArray<ShardSegment> CopyViews => CopySet().Views;

    private CopyViewSet CopySet()
    {
        if (Segments.IsDefaultOrEmpty) return new CopyViewSet([], null);
        return CopyViewSets.GetValue(ImmutableCollectionsMarshal.AsArray(Segments)!, segments =>
        {
            if (!segments.Any(s => s.HasCopyCodes)) return new CopyViewSet([], null);
            ImmutableArray<ShardSegment> views = [.. segments.Select(s => s.CopyCodesOrMissing())];
            var excluded = new List<(int Segment, int Item)>();
            for (int s = 0; s < segments.Length; s++)
                for (int i = 0; i < segments[s].Count; i++)
                    if (!HasCopyCode(s, i)) excluded.Add((s, i));
            return new CopyViewSet(views, excluded.Count == 0 ? null : ItemExclusions.Create(views, excluded));
        });
    }

    /// <summary>Whether item <paramref name="item"/> of segment <paramref name="segment"/> is visible (not hidden) and has a copy code.</summary>
    public bool HasCopyCode(int segment, int item) =>
        !Hidden.Contains(segment, item) && Segments[segment].HasCopyCodes && !Copies.CopyCodec.IsMissing(Segments[segment].CopyCodeOf(item));

    /// <summary>Where the visible item of <paramref name="id"/> is (the newest segment first); null when the index holds none.</summary>
    public (int Segment, int Item)? Find(ImageId id)
    {
        for (var s = Segments.Length - 1; s >= 0; s--)
        {
            var i = ImageIdIndex.Of(Segments[s]).Find(id);
            if (i >= 0 && !Hidden.Contains(s, i)) return (s, i);
        }
        return null;
    }

    /// <summary>Where the visible item named <paramref name="blobName"/> is (the newest segment first); null when the index holds none.</summary>
    public (int Segment, int Item)? Find(string blobName)
    {
        for (var s = Segments.Length - 1; s >= 0; s--)
        {
            var i = Segments[s].Ids.IndexOf(blobName);
            if (i >= 0 && !Hidden.Contains(s, i)) return (s, i);
        }
        return null;
    }

    /// <summary>A version with nothing written to it yet.</summary>
    public static IndexSnapshot Empty(string modelVersion, DateTimeOffset checkedAt) =>
        new(modelVersion, [], ItemExclusions.Create([], []), checkedAt);

    /// <summary>
    /// The index as <paramref name="entries"/> list it: the sealed segments as held, then one tail of the deltas
    /// (oldest first, an id's last event winning), with the sealed items the tail replaces or removes hidden.
    /// </summary>
    public static IndexSnapshot Build(string modelVersion, CodeFormat format, IReadOnlyList<SegmentEntry> entries, SegmentSetReader held,
        DateTimeOffset checkedAt, int read)
    {
        var sealedEntries = entries.Where(e => e.Kind == SegmentKind.Sealed && held[e.Key].Count > 0).ToList();
        var deltas = entries.Where(e => e.Kind == SegmentKind.Delta).Select(e => held[e.Key]).ToList();
        var segments = sealedEntries.Select(e => held[e.Key]).ToList();
        var hidden = new List<(int Segment, int Item)>();
        if (deltas.Count > 0)
        {
            // The tail keeps its removals: they hide sealed items as its items replace them.
            var tail = deltas.Count == 1 ? deltas[0] : IndexSegments.Merge(format, modelVersion, deltas, keepRemovals: true);
            var sealedOfShard = sealedEntries.Select((e, i) => (e.Shard, i)).ToLookup(x => x.Shard, x => x.i);
            if (sealedEntries.Count > 0)
            {
                void Hide(string id)
                {
                    foreach (var s in sealedOfShard[held.Index.ShardOf(id)])
                    {
                        var at = segments[s].Ids.IndexOf(id);
                        if (at >= 0) hidden.Add((s, at));
                    }
                }
                for (var i = 0; i < tail.Count; i++) Hide(tail.Ids[i]);
                for (var i = 0; i < tail.RemovedIds.Count; i++) Hide(tail.RemovedIds[i]);
            }
            if (tail.Count > 0) segments.Add(tail);
        }
        return new IndexSnapshot(modelVersion, [.. segments], ItemExclusions.Create(segments, hidden), checkedAt, read);
    }

    /// <summary>Distinct items: every segment's items less the hidden ones.</summary>
    public long Items => Segments.Sum(s => (long)s.Count) - Hidden.Count;

    /// <summary>The version's shard count (0 for a version with nothing written yet).</summary>
    public int ShardCount { get; init; }

    /// <summary>
    /// Everything a query's filter leaves out, hidden items included (see <see cref="RestrictedTo"/>); null: no filter.
    /// Only searches read it: the snapshot's counts and lookups are the whole index's.
    /// </summary>
    public ItemExclusions? Restriction { get; private init; }

    /// <summary>
    /// This snapshot for one query whose candidates are <paramref name="ids"/> (the search catalog's matches):
    /// every visible item not among them is left out of the scans. Costs one lookup per id and one pass over the
    /// index's bit words (N / 64), with a bit per item allocated for the query.
    /// </summary>
    public IndexSnapshot RestrictedTo(IReadOnlySet<ImageId> ids)
    {
        var kept = new ulong[Segments.Length][];
        for (var s = 0; s < Segments.Length; s++) kept[s] = new ulong[(Segments[s].Count + 63) >> 6];
        foreach (var id in ids)
            if (Find(id) is var (s, i)) kept[s][i >> 6] |= 1UL << i; // only visible items are found: hidden ones stay out
        return this with { Restriction = ItemExclusions.AllBut(Segments, kept) };
    }

    private static readonly ConditionalWeakTable<ShardSegment[], long[]> ShardItemCounts = new();

    /// <summary>Distinct items per shard (what each shard's segments hold once the hidden items are left out); counted once per segment set.</summary>
    public IReadOnlyList<long> ItemsPerShard()
    {
        if (ShardCount == 0 || Segments.IsDefaultOrEmpty) return new long[ShardCount];
        var shards = ShardCount;
        return ShardItemCounts.GetValue(ImmutableCollectionsMarshal.AsArray(Segments)!, segments =>
        {
            var counts = new long[shards];
            for (var s = 0; s < segments.Length; s++)
                for (var i = 0; i < segments[s].Count; i++)
                    if (!Hidden.Contains(s, i)) counts[ImageId.FromBlobName(segments[s].Ids[i]).Shard(shards)]++;
            return counts;
        });
    }

    /// <summary>
    /// The <paramref name="k"/> best items, as <see cref="SegmentScanner.Search"/> finds them, hidden items
    /// left out by the scan itself (<see cref="ScanOptions.Exclude"/>), so the cost does not grow with the
    /// number of hidden items.
    /// </summary>
    public ScanHit[] Search(LookupTables tables, int k, ScanOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Exclude is not null)
            throw new ArgumentException("a snapshot search applies the snapshot's own exclusions (Hidden); options.Exclude must be null", nameof(options));
        if (Segments.IsEmpty) return [];
        var exclude = Restriction ?? (Hidden.Count == 0 ? null : Hidden);
        return SegmentScanner.Search(Segments, tables, k, exclude is null ? options : options with { Exclude = exclude }, cancellationToken);
    }

    /// <summary>As <see cref="Search"/>, over <see cref="CopyViews"/> with copy-scan tables, hidden items and items without a copy code left out; empty without copy codes.</summary>
    public ScanHit[] SearchCopies(LookupTables tables, int k, ScanOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Exclude is not null)
            throw new ArgumentException("a snapshot search applies the snapshot's own exclusions (Hidden); options.Exclude must be null", nameof(options));
        var set = CopySet();
        if (set.Views.IsEmpty) return [];
        // The copy set is shared by every query of these segments; a filter's restriction joins it for this scan only.
        var exclude = Restriction is null ? set.Exclude : set.Exclude?.Union(Restriction) ?? Restriction;
        return SegmentScanner.Search(set.Views, tables, k, exclude is null ? options : options with { Exclude = exclude }, cancellationToken);
    }
}
