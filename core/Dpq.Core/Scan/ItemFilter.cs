namespace Dpq.Scan;

/// <summary>A segment's label bytes checked against the scan's <see cref="LabelFilter"/> (none: every item passes).</summary>
internal readonly struct ItemFilter(byte[] labels, LabelFilter? filter)
{
    public bool Allows(int item) => filter is null || filter.Allows(labels[item]);
}
