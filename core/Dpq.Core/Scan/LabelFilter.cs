namespace Dpq.Scan;

/// <summary>The set of item labels a scan keeps (256 bits, one per label byte).</summary>
public sealed class LabelFilter
{
    private readonly ulong[] _bits = new ulong[4];

    public LabelFilter(IEnumerable<byte> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        foreach (byte label in allowed) _bits[label >> 6] |= 1UL << (label & 63);
    }

    public static LabelFilter Of(params byte[] allowed) => new(allowed);

    public bool Allows(byte label) => (_bits[label >> 6] & (1UL << (label & 63))) != 0;
}
