using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Items a scan leaves out, by segment position and item index: for instance the sealed copies of images
/// that a newer delta rewrote. One bit per item of each segment that has any. Checked, like the label
/// filter, only for items that already pass the score threshold, so the kernels run unchanged and the
/// result is the top k of the items that remain. Immutable once made, so concurrent scans can share it.
/// </summary>
public sealed class ItemExclusions
{
    private readonly ulong[]?[] _bits;
    private readonly int[] _items;

    private ItemExclusions(ulong[]?[] bits, int[] items, int count)
    {
        _bits = bits;
        _items = items;
        Count = count;
    }

    /// <summary>
    /// Leaves out <paramref name="items"/> (segment position, item index; repeats count once) of a scan of
    /// <paramref name="segments"/>, in that order.
    /// </summary>
    public static ItemExclusions Create(IReadOnlyList<ShardSegment> segments, IEnumerable<(int Segment, int Item)> items)
    {
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(items);
        var bits = new ulong[]?[segments.Count];
        int[] counts = [.. segments.Select(s => s.Count)];
        var count = 0;
        foreach (var (segment, item) in items)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)segment, (uint)bits.Length, nameof(items));
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)item, (uint)counts[segment], nameof(items));
            var words = bits[segment] ??= new ulong[(counts[segment] + 63) >> 6];
            ulong bit = 1UL << item;
            if ((words[item >> 6] & bit) != 0) continue;
            words[item >> 6] |= bit;
            count++;
        }
        return new ItemExclusions(bits, counts, count);
    }

    /// <summary>Items left out.</summary>
    public int Count { get; }

    public bool Contains(int segment, int item) =>
        (uint)segment < (uint)_bits.Length && _bits[segment] is { } bits && (uint)item < (uint)_items[segment]
        && (bits[item >> 6] & (1UL << item)) != 0;

    /// <summary>Whether these exclusions were made for <paramref name="segments"/>: as many, each of the same size.</summary>
    public bool Fits(IReadOnlyList<ShardSegment> segments)
    {
        if (segments.Count != _items.Length) return false;
        for (int s = 0; s < segments.Count; s++)
            if (segments[s].Count != _items[s]) return false;
        return true;
    }

    /// <summary>The bits of one segment, or null when none of its items is left out.</summary>
    internal ulong[]? For(int segment) => _bits[segment];
}
