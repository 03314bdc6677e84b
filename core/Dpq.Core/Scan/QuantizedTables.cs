namespace Dpq.Scan;

/// <summary>
/// A query's lookup tables rounded to bytes: q[l][k] = round((T[l][k] - min_l) / scale), one scale for all
/// levels so integer sums rank like float sums, up to a known error. <see cref="Slack"/> turns that error
/// into a safe candidate bound (docs/scanner.md has the proof):
/// with A = sum_l min_l + scale * a (a = an item's integer sum) and F the exact float score the re-rank
/// computes, |F - A| &lt;= eps, where eps = sum_l max_k |T[l][k] - min_l - scale * q[l][k]| (measured, not
/// assumed) plus a bound on the float rounding of F. If theta is the k-th best integer sum, the k-th best
/// exact score is at least A(theta) - eps, so an item of the exact top k has A(a) + eps &gt;= A(theta) - eps,
/// that is a &gt;= theta - 2 eps / scale. Keeping every item with a &gt;= theta - Slack, Slack = floor(2 eps / scale) + 1,
/// keeps the exact top k, ties included.
/// </summary>
internal sealed class QuantizedTables
{
    private QuantizedTables(int codewords, int levels, byte[] values, int slack)
    {
        Codewords = codewords;
        Levels = levels;
        Values = values;
        LaneValues = codewords == 256 ? ToLanes(values, levels) : [];
        Slack = slack;
    }

    public int Codewords { get; }

    public int Levels { get; }

    /// <summary>q[l][k], level after level.</summary>
    public byte[] Values { get; }

    /// <summary>
    /// For the K = 256 shuffle kernel (empty for K = 16): each level's table as sixteen 16-entry pieces
    /// (codewords 16h..16h+15), each written twice, once per 128-bit lane of a 256-bit vector.
    /// </summary>
    public byte[] LaneValues { get; }

    /// <summary>Integer margin below the k-th best approximate sum that candidates must stay within.</summary>
    public int Slack { get; }

    private static byte[] ToLanes(byte[] values, int levels)
    {
        var lanes = new byte[levels * 256 * 2];
        for (int l = 0; l < levels; l++)
        {
            for (int h = 0; h < 16; h++)
            {
                var piece = values.AsSpan(l * 256 + h * 16, 16);
                piece.CopyTo(lanes.AsSpan(l * 512 + h * 32));
                piece.CopyTo(lanes.AsSpan(l * 512 + h * 32 + 16));
            }
        }
        return lanes;
    }

    public static QuantizedTables Create(LookupTables tables)
    {
        int k = tables.Codewords, m = tables.Levels;
        var t = tables.Values;
        var min = new double[m];
        double scale = 0, magnitude = 0;
        for (int l = 0; l < m; l++)
        {
            var level = t.Slice(l * k, k);
            double lo = double.PositiveInfinity, hi = double.NegativeInfinity, abs = 0;
            foreach (float v in level)
            {
                lo = Math.Min(lo, v);
                hi = Math.Max(hi, v);
                abs = Math.Max(abs, Math.Abs(v));
            }
            min[l] = lo;
            scale = Math.Max(scale, (hi - lo) / byte.MaxValue);
            magnitude += abs;
        }
        // Constant tables: every item scores the same, any scale ranks them equally.
        if (scale == 0) scale = 1;

        var values = new byte[m * k];
        double quantizationError = 0;
        for (int l = 0; l < m; l++)
        {
            double worst = 0;
            for (int c = 0; c < k; c++)
            {
                double q = Math.Clamp(Math.Round((t[l * k + c] - min[l]) / scale), 0, byte.MaxValue);
                values[l * k + c] = (byte)q;
                worst = Math.Max(worst, Math.Abs(t[l * k + c] - (min[l] + scale * q)));
            }
            quantizationError += worst;
        }
        // Float sums of m terms from 0f: m - 1 roundings, each at most 2^-24 of a partial sum, and a partial
        // sum is at most `magnitude`. The relative 1e-9 covers the double arithmetic above.
        double floatError = Math.Max(m - 1, 0) * Math.ScaleB(1.0, -24) * magnitude;
        double eps = (quantizationError + floatError) * (1 + 1e-9) + magnitude * 1e-12;
        int slack = checked((int)Math.Floor(2 * eps / scale) + 1);
        return new QuantizedTables(k, m, values, slack);
    }
}
