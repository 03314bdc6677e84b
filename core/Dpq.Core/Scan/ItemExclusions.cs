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

    /// <summary>
    /// Leaves out every item of <paramref name="segments"/> but those set in <paramref name="kept"/> (one bit per
    /// item of each segment, as <see cref="Create"/> lays them out): word by word, so a caller who knows the few
    /// items to keep pays one pass over the words, not one step per item.
    /// </summary>
    public static ItemExclusions AllBut(IReadOnlyList<ShardSegment> segments, ulong[][] kept)
    {
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentOutOfRangeException.ThrowIfNotEqual(kept.Length, segments.Count, nameof(kept));
        var bits = new ulong[]?[segments.Count];
        int[] counts = [.. segments.Select(s => s.Count)];
        long count = 0;
        for (int s = 0; s < bits.Length; s++)
        {
            var words = (counts[s] + 63) >> 6;
            ArgumentOutOfRangeException.ThrowIfNotEqual(kept[s].Length, words, nameof(kept));
            if (words == 0) continue;
            var left = new ulong[words];
            for (int w = 0; w < words; w++) left[w] = ~kept[s][w];
            if ((counts[s] & 63) != 0) left[^1] &= (1UL << (counts[s] & 63)) - 1; // no bits past the last item
            foreach (var word in left) count += System.Numerics.BitOperations.PopCount(word);
            bits[s] = left;
        }
        return new ItemExclusions(bits, counts, checked((int)count));
    }

    /// <summary>What either leaves out; both made for the same segment sizes.</summary>
    public ItemExclusions Union(ItemExclusions other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!_items.AsSpan().SequenceEqual(other._items)) throw new ArgumentException("the exclusions were made for other segments", nameof(other));
        var bits = new ulong[]?[_bits.Length];
        long count = 0;
        for (int s = 0; s < bits.Length; s++)
        {
            if (_bits[s] is not { } a) bits[s] = other._bits[s];
            else if (other._bits[s] is not { } b) bits[s] = a;
            else
            {
                var union = new ulong[a.Length];
                for (int w = 0; w < a.Length; w++) union[w] = a[w] | b[w];
                bits[s] = union;
            }
            if (bits[s] is { } words) foreach (var word in words) count += System.Numerics.BitOperations.PopCount(word);
        }
        return new ItemExclusions(bits, _items, checked((int)count));
    }
}
