using Dpq.Evaluation;
using Dpq.Quantization;

namespace Dpq.Tests.Evaluation;

public sealed class ProductQuantizerTests
{
    private const int N = 500, Dim = 12, Subs = 3, Centroids = 16;
    private static readonly float[] s_points = MakePoints();

    private static float[] MakePoints()
    {
        var rng = new Random(1);
        return [.. Enumerable.Range(0, N * Dim).Select(_ => (float)rng.NextDouble())];
    }

    [Fact]
    public void EachSubCodeIsTheNearestCentroidOfItsSubVector()
    {
        var pq = ProductQuantizer.Train(s_points, N, Dim, Subs, seed: 2, centroids: Centroids);
        var codes = pq.Encode(s_points, N);
        for (int i = 0; i < N; i += 7)
            for (int s = 0; s < Subs; s++)
            {
                var part = s_points.AsSpan(i * Dim + s * pq.SubDimension, pq.SubDimension);
                float chosen = VectorMath.SquaredDistance(part, pq.Centroid(s, codes[i * Subs + s]));
                for (int k = 0; k < Centroids; k++) Assert.True(chosen <= VectorMath.SquaredDistance(part, pq.Centroid(s, k)));
            }
    }

    [Fact]
    public void TableScoresAreInnerProductsWithTheReconstruction()
    {
        var pq = ProductQuantizer.Train(s_points, N, Dim, Subs, seed: 2, centroids: Centroids);
        var codes = pq.Encode(s_points, N);
        var rng = new Random(3);
        var query = Enumerable.Range(0, Dim).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();

        var tables = new float[Subs * Centroids];
        pq.LookupTables(query, tables);
        var scores = new float[N];
        CodeScoring.ScoreCodes(tables, Subs, Centroids, codes, Subs, scores);

        for (int i = 0; i < N; i += 11)
        {
            var reconstruction = new float[Dim];
            for (int s = 0; s < Subs; s++) pq.Centroid(s, codes[i * Subs + s]).CopyTo(reconstruction.AsSpan(s * pq.SubDimension));
            Assert.Equal(VectorMath.Dot(query, reconstruction), scores[i], 4);
        }
    }

    [Fact]
    public void RepeatsForASeedAndRejectsAnUnevenSplit()
    {
        var a = ProductQuantizer.Train(s_points, N, Dim, Subs, seed: 5, centroids: Centroids).Encode(s_points, N);
        var b = ProductQuantizer.Train(s_points, N, Dim, Subs, seed: 5, centroids: Centroids).Encode(s_points, N);
        Assert.Equal(a, b);
        Assert.Throws<ArgumentException>(() => ProductQuantizer.Train(s_points, N, Dim, 5, seed: 1));
    }
}
