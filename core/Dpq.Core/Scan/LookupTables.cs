namespace Dpq.Scan;

/// <summary>
/// A query's lookup tables T[l][k] = &lt;x_q, C_l[k]&gt; for the first <see cref="Levels"/> levels, row-major
/// (level after level, <see cref="Codewords"/> floats each). An item's score is sum over l of T[l][code[l]];
/// higher is better. Scanning with fewer levels than a segment's codes have scores their prefixes.
/// </summary>
public sealed class LookupTables
{
    /// <summary>Largest |T| accepted, so that a sum of 64 entries and its error bound stay finite in float.</summary>
    public const float MaxMagnitude = 1e30f;

    private readonly float[] _values;

    public LookupTables(int codewords, int levels, float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (codewords is not (16 or 256))
            throw new ArgumentOutOfRangeException(nameof(codewords), codewords, "codewords per level (K) must be 16 or 256");
        if (levels is < 1 or > Formats.CodeFormat.MaxLevels)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, $"levels must be from 1 to {Formats.CodeFormat.MaxLevels}");
        if (values.Length != codewords * levels)
            throw new ArgumentException($"expected {levels} x {codewords} = {codewords * levels} values, got {values.Length}", nameof(values));
        for (int i = 0; i < values.Length; i++)
        {
            if (!(Math.Abs(values[i]) <= MaxMagnitude))
                throw new ArgumentException($"table value {i} (level {i / codewords}, codeword {i % codewords}) is {values[i]}; values must be finite and at most {MaxMagnitude} in magnitude", nameof(values));
        }
        Codewords = codewords;
        Levels = levels;
        // A copy: the checks above must still hold when the caller reuses its array.
        _values = (float[])values.Clone();
    }

    public int Codewords { get; }

    public int Levels { get; }

    public ReadOnlySpan<float> Values => _values;

    internal float[] ValueArray => _values;

    public ReadOnlySpan<float> Level(int level) => _values.AsSpan(level * Codewords, Codewords);
}
