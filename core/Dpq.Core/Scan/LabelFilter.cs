using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// The labels a scan keeps: either label bytes (256 bits, one per byte value) or class names, which
/// each segment turns into its own bytes (<see cref="For"/>), since segments number their names apart.
/// </summary>
public sealed class LabelFilter
{
    private readonly ulong[] _bits = new ulong[4];
    private readonly string[]? _names;

    public LabelFilter(IEnumerable<byte> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        foreach (byte label in allowed) _bits[label >> 6] |= 1UL << (label & 63);
    }

    private LabelFilter(string[] names) => _names = names;

    public static LabelFilter Of(params byte[] allowed) => new(allowed);

    /// <summary>Keeps the items whose class is one of <paramref name="names"/> (ordinal comparison).</summary>
    public static LabelFilter Named(IEnumerable<string> names) => new([.. names.Distinct(StringComparer.Ordinal)]);

    /// <summary>The class names kept; null for a filter of label bytes.</summary>
    public IReadOnlyList<string>? Names => _names;

    /// <summary>Whether label byte <paramref name="label"/> is kept; for a filter of names, first take <see cref="For"/> a segment.</summary>
    public bool Allows(byte label)
    {
        if (_names is not null) throw new InvalidOperationException("a filter of class names allows bytes only per segment: call For(segment) first");
        return (_bits[label >> 6] & (1UL << (label & 63))) != 0;
    }

    /// <summary>This filter as label bytes of <paramref name="segment"/>.</summary>
    public LabelFilter For(ShardSegment segment)
    {
        if (_names is null) return this;
        var bytes = new List<byte>(_names.Length);
        foreach (var name in _names)
            if (segment.TryGetLabelByte(name, out var b)) bytes.Add(b);
        return new LabelFilter(bytes);
    }
}
