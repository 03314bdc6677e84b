namespace Dpq.Evaluation;

/// <summary>Fills the scores (one per database item, higher = more similar) of one query.</summary>
public delegate void QueryScorer(int query, Span<float> scores);

/// <summary>mAP over all queries and the mean interpolated precision at <see cref="MeanAveragePrecision.RecallLevels"/>.</summary>
public sealed record RetrievalResult(double Map, double[] PrecisionAtRecall, int QueriesWithRelevant);

/// <summary>
/// Mean average precision over the whole database (R = database size), relevance = same label.
/// For one query: rank every database item by score, highest first, ties broken by database order
/// (lower index first); AP = (1 / |relevant|) x sum over relevant items of the precision at their
/// rank. mAP is the mean over queries that have at least one relevant item (queries with none are
/// left out and counted in <see cref="RetrievalResult.QueriesWithRelevant"/>). Queries run in parallel.
/// </summary>
public static class MeanAveragePrecision
{
    /// <summary>Recall 0, 0.05, ..., 1: where the precision-recall curve is sampled.</summary>
    public static IReadOnlyList<double> RecallLevels { get; } = [.. Enumerable.Range(0, 21).Select(i => i / 20.0)];

    public static RetrievalResult Evaluate(int queryCount, QueryScorer scorer, byte[] queryLabels, byte[] databaseLabels)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        if (queryLabels.Length < queryCount) throw new ArgumentException($"{queryLabels.Length} labels for {queryCount} queries", nameof(queryLabels));
        int n = databaseLabels.Length;
        double apSum = 0;
        int counted = 0;
        var precisionSums = new double[RecallLevels.Count];
        var gate = new Lock();
        Parallel.For(0, queryCount,
            () => new QueryWork(n, RecallLevels.Count),
            (q, _, work) =>
            {
                scorer(q, work.Scores);
                double? ap = work.Evaluate(databaseLabels, queryLabels[q]);
                if (ap is double value)
                {
                    work.ApSum += value;
                    work.Counted++;
                    for (int r = 0; r < work.Curve.Length; r++) work.CurveSum[r] += work.Curve[r];
                }
                return work;
            },
            work =>
            {
                lock (gate)
                {
                    apSum += work.ApSum;
                    counted += work.Counted;
                    for (int r = 0; r < precisionSums.Length; r++) precisionSums[r] += work.CurveSum[r];
                }
            });
        // Partial sums are added in whatever order threads finish; differences are at the level of
        // double rounding (~1e-16), far below the reported precision.
        return new RetrievalResult(counted > 0 ? apSum / counted : 0, [.. precisionSums.Select(s => counted > 0 ? s / counted : 0)], counted);
    }

    /// <summary>AP of a single query (null when no database item is relevant). Allocates; for tests and one-offs.</summary>
    public static double? AveragePrecision(ReadOnlySpan<float> scores, byte[] databaseLabels, byte queryLabel)
    {
        var work = new QueryWork(scores.Length, RecallLevels.Count);
        scores.CopyTo(work.Scores);
        return work.Evaluate(databaseLabels, queryLabel);
    }

    /// <summary>Per-thread buffers and running sums.</summary>
    private sealed class QueryWork(int n, int recallLevels)
    {
        private readonly float[] _scores = new float[n];
        private readonly int[] _order = new int[n];
        private readonly Ranking _ranking = new();
        public Span<float> Scores => _scores;
        public readonly double[] Curve = new double[recallLevels];
        public readonly double[] CurveSum = new double[recallLevels];
        public double ApSum;
        public int Counted;

        public double? Evaluate(byte[] labels, byte queryLabel)
        {
            if (labels.Length != _scores.Length) throw new ArgumentException($"{labels.Length} labels for {_scores.Length} scores");
            int relevant = 0;
            foreach (var l in labels) if (l == queryLabel) relevant++;
            if (relevant == 0) return null;

            _ranking.SortDescending(_scores, _order);
            Array.Clear(Curve);
            double sum = 0;
            int hits = 0, level = 0, last = Curve.Length - 1;
            for (int rank = 0; rank < _order.Length && hits < relevant; rank++)
            {
                if (labels[_order[rank]] != queryLabel) continue;
                hits++;
                double precision = (double)hits / (rank + 1);
                sum += precision;
                // Precision at this hit counts for every recall level up to the recall reached here.
                while (level <= last && level * relevant <= hits * last) Curve[level++] = precision;
            }
            // Interpolate: precision at recall r is the best precision at any recall >= r.
            for (int r = last - 1; r >= 0; r--) Curve[r] = Math.Max(Curve[r], Curve[r + 1]);
            return sum / relevant;
        }
    }
}
