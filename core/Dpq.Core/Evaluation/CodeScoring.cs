using Dpq.Quantization;

namespace Dpq.Evaluation;

/// <summary>Scores against stored items: codes through lookup tables, or raw float features.</summary>
public static class CodeScoring
{
    /// <summary>
    /// score[i] = sum over l &lt; levels of tables[l * k + codes[i * stride + l]]: the inner product
    /// of the query with the item's reconstruction, when tables[l, j] = &lt;query, codeword_l[j]&gt;.
    /// </summary>
    public static void ScoreCodes(ReadOnlySpan<float> tables, int levels, int k, ReadOnlySpan<byte> codes, int stride, Span<float> scores)
    {
        if (levels > stride || tables.Length < levels * k) throw new ArgumentException($"levels {levels}, stride {stride}, {tables.Length} table entries for k = {k}");
        int n = scores.Length;
        if (codes.Length < n * stride) throw new ArgumentException($"{codes.Length} code bytes for {n} items of {stride}", nameof(codes));
        for (int i = 0; i < n; i++)
        {
            var code = codes.Slice(i * stride, levels);
            float s = 0;
            for (int l = 0; l < code.Length; l++) s += tables[l * k + code[l]];
            scores[i] = s;
        }
    }

    /// <summary>score[i] = &lt;query, features[i]&gt; for features stored n x query.Length.</summary>
    public static void ScoreFeatures(ReadOnlySpan<float> query, ReadOnlySpan<float> features, Span<float> scores)
    {
        int d = query.Length;
        for (int i = 0; i < scores.Length; i++) scores[i] = VectorMath.Dot(query, features.Slice(i * d, d));
    }
}
