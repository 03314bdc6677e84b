using System.Numerics;

namespace Dpq.Quantization;

/// <summary>
/// The M codebooks of a progressive (residual) quantizer, K codewords of dimension D each, held
/// as one float array of M x K x D (level-major, then codeword, then dimension). Level l
/// quantizes what levels 0..l-1 left over, so the first m bytes of a code are a complete m-level
/// code. Pure arithmetic: no I/O and no TorchSharp (the file format is Formats/CodebookFile).
/// </summary>
public sealed class Codebooks
{
    private readonly float[] _data;

    public Codebooks(int m, int k, int d, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (m < 1) throw new ArgumentOutOfRangeException(nameof(m), m, "at least one level");
        if (k < 2 || k > 256 || !BitOperations.IsPow2(k))
            throw new ArgumentOutOfRangeException(nameof(k), k, "a power of two from 2 to 256 (codes are one byte per level)");
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d), d, "at least one dimension");
        if (data.LongLength != (long)m * k * d)
            throw new ArgumentException($"{data.Length} values, expected M x K x D = {m} x {k} x {d}", nameof(data));
        foreach (var v in data)
            if (!float.IsFinite(v)) throw new ArgumentException("codebooks hold a non-finite value", nameof(data));
        (M, K, D, _data) = (m, k, d, data);
    }

    /// <summary>Number of levels (codebooks).</summary>
    public int M { get; }

    /// <summary>Codewords per level.</summary>
    public int K { get; }

    /// <summary>Dimension of the feature and of each codeword.</summary>
    public int D { get; }

    /// <summary>Bits one level adds to a code: log2(K).</summary>
    public int BitsPerLevel => BitOperations.Log2((uint)K);

    /// <summary>All codewords, M x K x D row-major. Do not modify.</summary>
    public ReadOnlySpan<float> Data => _data;

    public ReadOnlySpan<float> Level(int level) => _data.AsSpan(CheckLevel(level) * K * D, K * D);

    public ReadOnlySpan<float> Codeword(int level, int index)
    {
        if ((uint)index >= (uint)K) throw new ArgumentOutOfRangeException(nameof(index));
        return _data.AsSpan((CheckLevel(level) * K + index) * D, D);
    }

    /// <summary>The first <paramref name="levels"/> codebooks as an m-level quantizer (copies).</summary>
    public Codebooks Prefix(int levels)
    {
        if (levels < 1 || levels > M) throw new ArgumentOutOfRangeException(nameof(levels), levels, $"1..{M}");
        return new Codebooks(levels, K, D, _data.AsSpan(0, levels * K * D).ToArray());
    }

    /// <summary>
    /// Lookup tables for inner-product search: T[l, k] = &lt;query, C_l[k]&gt; for l &lt; levels,
    /// levels x K row-major. The score of a code is the sum of T[l, code[l]] over its first levels.
    /// </summary>
    public float[] LookupTables(ReadOnlySpan<float> query, int levels)
    {
        var tables = new float[CheckLevels(levels) * K];
        LookupTables(query, levels, tables);
        return tables;
    }

    public void LookupTables(ReadOnlySpan<float> query, int levels, Span<float> destination)
    {
        CheckFeature(query);
        if (destination.Length < CheckLevels(levels) * K) throw new ArgumentException("destination shorter than levels x K", nameof(destination));
        for (int l = 0; l < levels; l++)
        {
            var book = Level(l);
            for (int k = 0; k < K; k++) destination[l * K + k] = VectorMath.Dot(query, book.Slice(k * D, D));
        }
    }

    /// <summary>Greedy residual encoding: at each level the nearest codeword (squared Euclidean,
    /// lowest index on a tie) to what the previous levels left; one byte per level.</summary>
    public byte[] EncodeHard(ReadOnlySpan<float> feature)
    {
        var codes = new byte[M];
        EncodeHard(feature, codes);
        return codes;
    }

    public void EncodeHard(ReadOnlySpan<float> feature, Span<byte> codes)
    {
        CheckFeature(feature);
        if (codes.Length < M) throw new ArgumentException($"codes need {M} bytes", nameof(codes));
        Span<float> residual = D <= 1024 ? stackalloc float[D] : new float[D];
        feature.CopyTo(residual);
        for (int l = 0; l < M; l++)
        {
            int best = VectorMath.Nearest(residual, Level(l), K, out _);
            codes[l] = (byte)best;
            var word = Codeword(l, best);
            for (int i = 0; i < D; i++) residual[i] -= word[i];
        }
    }

    /// <summary>The reconstruction of a code: the sum of its codewords over codes.Length levels.</summary>
    public void Decode(ReadOnlySpan<byte> codes, Span<float> destination)
    {
        CheckLevels(codes.Length);
        if (destination.Length < D) throw new ArgumentException($"destination needs {D} floats", nameof(destination));
        destination[..D].Clear();
        for (int l = 0; l < codes.Length; l++)
        {
            var word = Codeword(l, codes[l]);
            for (int i = 0; i < D; i++) destination[i] += word[i];
        }
    }

    private int CheckLevel(int level) =>
        (uint)level < (uint)M ? level : throw new ArgumentOutOfRangeException(nameof(level), level, $"0..{M - 1}");

    private int CheckLevels(int levels) =>
        levels >= 1 && levels <= M ? levels : throw new ArgumentOutOfRangeException(nameof(levels), levels, $"1..{M}");

    private void CheckFeature(ReadOnlySpan<float> feature)
    {
        if (feature.Length != D) throw new ArgumentException($"feature has {feature.Length} values, codebooks have D = {D}", nameof(feature));
    }
}
