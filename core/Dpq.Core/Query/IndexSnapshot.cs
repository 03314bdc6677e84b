using System.Collections.Frozen;
using System.Collections.Immutable;
using Dpq.Formats;
using Dpq.Scan;

namespace Dpq.Query;

/// <summary>
/// The index of one model version as of one catalog read: sealed segments, then the merged deltas
/// (the tail). Hidden lists the sealed items (<see cref="TopK.Key"/>) that a tail item of the same id
/// replaces; searches skip them. SegmentsRead: segment files the refresh that made it downloaded.
/// </summary>
public sealed record IndexSnapshot(string ModelVersion, ImmutableArray<ShardSegment> Segments, FrozenSet<long> Hidden,
    DateTimeOffset CheckedAt, int SegmentsRead = 0)
{
    /// <summary>Distinct items: every segment's items less the hidden ones.</summary>
    public long Items => Segments.Sum(s => (long)s.Count) - Hidden.Count;

    /// <summary>
    /// The <paramref name="k"/> best items, as <see cref="SegmentScanner.Search"/> finds them, hidden items
    /// left out: it asks for k + |Hidden|, so at least k visible hits remain and they are the true top k.
    /// </summary>
    public ScanHit[] Search(LookupTables tables, int k, ScanOptions options, CancellationToken cancellationToken = default)
    {
        if (Segments.IsEmpty) return [];
        if (Hidden.Count == 0) return SegmentScanner.Search(Segments, tables, k, options, cancellationToken);
        var hits = SegmentScanner.Search(Segments, tables, k + Hidden.Count, options, cancellationToken);
        return [.. hits.Where(h => !Hidden.Contains(TopK.Key(h.Segment, h.Item))).Take(k)];
    }
}
