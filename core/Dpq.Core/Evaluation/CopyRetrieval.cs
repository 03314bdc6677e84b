using Dpq.Quantization;

namespace Dpq.Evaluation;

/// <summary>How items are ranked against a query in the copy-retrieval evaluation.</summary>
public enum CopyScoring
{
    /// <summary>&lt;q, r_m&gt;: the inner product with the item's m-level reconstruction (what the scan ranks by).</summary>
    InnerProduct,
    /// <summary>2&lt;q, r_m&gt; - ||r_m||², i.e. -||q - r_m||² + ||q||²: squared distance, with a per-item norm term.</summary>
    SquaredDistance,
    /// <summary>The top <see cref="CopyRetrieval.RerankCandidates"/> by <see cref="SquaredDistance"/>, re-ranked by the squared distance to a finer reconstruction (extra residual levels).</summary>
    Reranked,
    /// <summary>Squared distance to the item's float feature: what a store of float vectors does (the ceiling).</summary>
    FloatFeature,
}

/// <summary>Share of queries whose copy ranked first and within the first ten.</summary>
public sealed record CopyResult(double CopyAt1, double CopyAt10);

/// <summary>
/// Copy retrieval: the database holds the training images and Q extra images (the copies, at
/// database indices <c>FirstCopy .. FirstCopy + Q - 1</c>); query i is a variant of copy i, and the
/// measure is the copy's rank. Equal scores rank by database index, lower first, as in the mAP
/// protocol, which puts ties against the copies (they come last).
/// </summary>
public sealed class CopyRetrieval(Codebooks codebooks, byte[] codes, float[] features, int firstCopy, Codebooks? finer = null, byte[]? finerCodes = null)
{
    public const int RerankCandidates = 100;

    private readonly int _n = codes.Length / codebooks.M;

    public int Items => _n;

    /// <summary>copy@1 and copy@10 of the queries (Q x D features, query i's copy at FirstCopy + i) at <paramref name="levels"/> levels.</summary>
    public CopyResult Evaluate(float[] queries, int levels, CopyScoring scoring)
    {
        int d = codebooks.D, q = queries.Length / d;
        if (firstCopy + q > _n) throw new ArgumentException($"{q} queries, but only {_n - firstCopy} copies");
        if (scoring == CopyScoring.Reranked && (finer is null || finerCodes is null)) throw new InvalidOperationException("re-ranking needs the finer codebooks and codes");
        var norms = scoring is CopyScoring.SquaredDistance or CopyScoring.Reranked ? Norms(codebooks, codes, levels) : null;
        int at1 = 0, at10 = 0;
        Parallel.For(0, q, () => (0, 0), (i, _, acc) =>
        {
            var rank = Rank(queries.AsSpan(i * d, d), firstCopy + i, levels, scoring, norms);
            return (acc.Item1 + (rank == 0 ? 1 : 0), acc.Item2 + (rank < 10 ? 1 : 0));
        }, acc => { Interlocked.Add(ref at1, acc.Item1); Interlocked.Add(ref at10, acc.Item2); });
        return new CopyResult(at1 / (double)q, at10 / (double)q);
    }

    private int Rank(ReadOnlySpan<float> query, int target, int levels, CopyScoring scoring, float[]? norms)
    {
        int d = codebooks.D, k = codebooks.K, m = codebooks.M;
        var scores = new float[_n];
        if (scoring == CopyScoring.FloatFeature)
        {
            for (int n = 0; n < _n; n++) scores[n] = -VectorMath.SquaredDistance(query, features.AsSpan(n * d, d));
        }
        else
        {
            var tables = codebooks.LookupTables(query, levels);
            CodeScoring.ScoreCodes(tables, levels, k, codes, m, scores);
            if (norms is not null) for (int n = 0; n < _n; n++) scores[n] = 2 * scores[n] - norms[n];
        }
        if (scoring == CopyScoring.Reranked)
        {
            // The finer reconstruction decides among the candidates; the rest keep their order behind them.
            var candidates = TopIndices(scores, RerankCandidates);
            int position = Array.IndexOf(candidates, target);
            if (position < 0) return RerankCandidates + CountAbove(scores, target);
            var reconstruction = new float[d];
            var best = new float[candidates.Length];
            for (int c = 0; c < candidates.Length; c++)
            {
                Decode(candidates[c], reconstruction);
                best[c] = -VectorMath.SquaredDistance(query, reconstruction);
            }
            int above = 0;
            for (int c = 0; c < candidates.Length; c++)
                if (best[c] > best[position] || (best[c] == best[position] && candidates[c] < target)) above++;
            return above;
        }
        return CountAbove(scores, target);
    }

    /// <summary>All M levels of the code, then every level of the finer code (the residual after all M levels).</summary>
    private void Decode(int item, Span<float> destination)
    {
        int d = codebooks.D;
        codebooks.Decode(codes.AsSpan(item * codebooks.M, codebooks.M), destination);
        Span<float> extra = stackalloc float[d];
        finer!.Decode(finerCodes.AsSpan(item * finer.M, finer.M), extra);
        for (int j = 0; j < d; j++) destination[j] += extra[j];
    }

    private static int CountAbove(float[] scores, int target)
    {
        int above = 0;
        float t = scores[target];
        for (int n = 0; n < scores.Length; n++)
            if (scores[n] > t || (scores[n] == t && n < target)) above++;
        return above;
    }

    private static int[] TopIndices(float[] scores, int count)
    {
        var order = Enumerable.Range(0, scores.Length).ToArray();
        var keys = scores.Select(s => -s).ToArray();
        Array.Sort(keys, order); // stable enough here: ties are rare among squared distances
        return order[..Math.Min(count, order.Length)];
    }

    /// <summary>||r_m||² of every item's m-level reconstruction.</summary>
    public static float[] Norms(Codebooks codebooks, byte[] codes, int levels)
    {
        int n = codes.Length / codebooks.M;
        var norms = new float[n];
        Parallel.For(0, n, i =>
        {
            Span<float> r = stackalloc float[codebooks.D];
            codebooks.Decode(codes.AsSpan(i * codebooks.M, levels), r);
            norms[i] = VectorMath.Dot(r, r);
        });
        return norms;
    }
}
