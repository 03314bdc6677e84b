namespace Dpq.Scan;

/// <summary>
/// Whether an item of one segment may be returned: not left out by the scan's <see cref="ItemExclusions"/>
/// (<paramref name="excluded"/>: that segment's bits, or null) and its label byte in the scan's
/// <see cref="LabelFilter"/> (none: every label passes).
/// </summary>
internal readonly struct ItemFilter(byte[] labels, LabelFilter? filter, ulong[]? excluded = null)
{
    public bool Allows(int item) =>
        (excluded is null || (excluded[item >> 6] & (1UL << item)) == 0) && (filter is null || filter.Allows(labels[item]));
}
