using Dpq.Evaluation;

namespace Dpq.Tests.Evaluation;

public sealed class MeanAveragePrecisionTests
{
    [Fact]
    public void ComputesAPByHandWithTiesBrokenByDatabaseOrder()
    {
        // Ranking: item 1 (0.9), then the tie at 0.5 in database order 0, 2, 4, then item 3 (0.1).
        // Relevance (label 1) along it: 0, 1, 1, 0, 1 -> hits at ranks 2, 3, 5:
        // AP = (1/2 + 2/3 + 3/5) / 3 = 0.58889. (Reverse tie order 1, 4, 2, 0, 3 would give 0.47778.)
        byte[] labels = [1, 0, 1, 1, 0];
        float[] scores = [0.5f, 0.9f, 0.5f, 0.1f, 0.5f];

        double? ap = MeanAveragePrecision.AveragePrecision(scores, labels, 1);

        Assert.Equal((1 / 2.0 + 2 / 3.0 + 3 / 5.0) / 3, ap!.Value, 12);
    }

    [Fact]
    public void InterpolatedPrecisionRecallByHand()
    {
        // Same query: hits at recall 1/3 (precision 1/2), 2/3 (2/3), 1 (3/5).
        byte[] labels = [1, 0, 1, 1, 0];
        float[] scores = [0.5f, 0.9f, 0.5f, 0.1f, 0.5f];

        var result = MeanAveragePrecision.Evaluate(1, (_, s) => scores.CopyTo(s), [1], labels);

        var levels = MeanAveragePrecision.RecallLevels;
        for (int i = 0; i < levels.Count; i++)
        {
            double expected = levels[i] <= 2 / 3.0 ? 2 / 3.0 : 3 / 5.0;
            Assert.Equal(expected, result.PrecisionAtRecall[i], 12);
        }
    }

    [Fact]
    public void PerfectAndWorstRankings()
    {
        byte[] labels = [0, 0, 1, 1];
        Assert.Equal(1.0, MeanAveragePrecision.AveragePrecision([0, 0, 2, 1], labels, 1));
        Assert.Equal((1 / 3.0 + 2 / 4.0) / 2, MeanAveragePrecision.AveragePrecision([2, 1, 0, -1], labels, 1)!.Value, 12);
        Assert.Null(MeanAveragePrecision.AveragePrecision([1, 2, 3, 4], labels, 7));
    }

    [Fact]
    public void MapIsTheMeanOverQueriesWithRelevantItems()
    {
        var rng = new Random(1);
        int n = 300, queries = 40;
        byte[] dbLabels = [.. Enumerable.Range(0, n).Select(_ => (byte)rng.Next(4))];
        byte[] queryLabels = [.. Enumerable.Range(0, queries).Select(q => (byte)(q == 7 ? 9 : rng.Next(4)))]; // query 7 has no relevant item
        // Few distinct scores, so ties are everywhere.
        var scores = Enumerable.Range(0, queries).Select(_ => Enumerable.Range(0, n).Select(_ => (float)rng.Next(5)).ToArray()).ToArray();

        var result = MeanAveragePrecision.Evaluate(queries, (q, s) => scores[q].CopyTo(s), queryLabels, dbLabels);

        var single = Enumerable.Range(0, queries).Select(q => MeanAveragePrecision.AveragePrecision(scores[q], dbLabels, queryLabels[q])).ToList();
        Assert.Equal(queries - 1, result.QueriesWithRelevant);
        Assert.Equal(single.Where(a => a is not null).Average(a => a!.Value), result.Map, 12);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2047)]
    [InlineData(5000)]
    public void RankingMatchesAStableSortByDescendingScore(int n)
    {
        var rng = new Random(n);
        float[] pool = [0f, -0f, 1e-30f, -1e-30f, 3.5f, -2.25f, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity];
        var scores = Enumerable.Range(0, n)
            .Select(_ => rng.Next(3) == 0 ? pool[rng.Next(pool.Length)] : (float)(rng.NextDouble() * 200 - 100))
            .ToArray();
        var order = new int[n];

        new Ranking().SortDescending(scores, order);

        var expected = Enumerable.Range(0, n).OrderByDescending(i => scores[i] == 0 ? 0f : scores[i]).ThenBy(i => i).ToArray();
        Assert.Equal(expected, order);
    }

    [Fact]
    public void RankingRejectsNaN()
    {
        Assert.Throws<ArgumentException>(() => new Ranking().SortDescending([1, float.NaN], new int[2]));
    }
}
