namespace Dpq.Scan;

/// <summary>
/// Items a scan leaves out, by segment position and item index: for instance the sealed copies of images
/// that a newer delta rewrote. One bit per item of each segment that has any. Checked, like the label
/// filter, only for items that already pass the score threshold, so the kernels run unchanged and the
/// result is the top k of the items that remain.
/// </summary>
public sealed class ItemExclusions
{
    private readonly ulong[]?[] _bits;
    private readonly int[] _items;

    /// <summary>No items left out yet, for a scan of <paramref name="segments"/> (in that order).</summary>
    public ItemExclusions(IReadOnlyList<Formats.ShardSegment> segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        _bits = new ulong[]?[segments.Count];
        _items = [.. segments.Select(s => s.Count)];
    }

    /// <summary>Segments this applies to: a scan must pass exactly as many.</summary>
    public int Segments => _bits.Length;

    /// <summary>Items left out.</summary>
    public int Count { get; private set; }

    /// <summary>Leaves item <paramref name="item"/> of segment <paramref name="segment"/> out; false if it already was.</summary>
    public bool Add(int segment, int item)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)segment, (uint)_bits.Length, nameof(segment));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)item, (uint)_items[segment], nameof(item));
        var bits = _bits[segment] ??= new ulong[(_items[segment] + 63) >> 6];
        ulong bit = 1UL << item;
        if ((bits[item >> 6] & bit) != 0) return false;
        bits[item >> 6] |= bit;
        Count++;
        return true;
    }

    public bool Contains(int segment, int item) =>
        (uint)segment < (uint)_bits.Length && _bits[segment] is { } bits && (uint)item < (uint)_items[segment]
        && (bits[item >> 6] & (1UL << item)) != 0;

    /// <summary>The bits of one segment, or null when none of its items is left out.</summary>
    internal ulong[]? For(int segment) => _bits[segment];
}
