using Dpq.Quantization;

namespace Dpq.Tests.Quantization;

public sealed class KMeansTests
{
    /// <summary>count points around each of the given 2-D centres, jitter up to 0.1.</summary>
    private static float[] Blobs((float X, float Y)[] centres, int count, int seed)
    {
        var rng = new Random(seed);
        var points = new List<float>();
        for (int i = 0; i < count; i++)
            foreach (var (x, y) in centres)
                points.AddRange([x + (float)(rng.NextDouble() - 0.5) * 0.2f, y + (float)(rng.NextDouble() - 0.5) * 0.2f]);
        return [.. points];
    }

    [Fact]
    public void FindsWellSeparatedClustersAndRepeatsForASeed()
    {
        (float, float)[] centres = [(0, 0), (10, 0), (0, 10), (10, 10)];
        var points = Blobs(centres, 50, seed: 1);

        var a = KMeans.Train(points, 200, 2, 4, seed: 9);
        var b = KMeans.Train(points, 200, 2, 4, seed: 9);

        Assert.Equal(a, b);
        foreach (var (x, y) in centres)
        {
            int nearest = VectorMath.Nearest([x, y], a, 4, out float distance);
            Assert.True(distance < 0.05, $"no centroid near ({x}, {y}): nearest {nearest} at squared distance {distance}");
        }
    }

    [Fact]
    public void ResidualLevelsReduceTheErrorAndMatchEncodeHard()
    {
        var rng = new Random(2);
        var points = Enumerable.Range(0, 400 * 6).Select(_ => (float)rng.NextDouble()).ToArray();

        var result = ResidualKMeans.Train(points, 400, 6, 3, 8, seed: 3);

        Assert.True(result.MeanSquaredResidual[0] > result.MeanSquaredResidual[1]);
        Assert.True(result.MeanSquaredResidual[1] > result.MeanSquaredResidual[2]);
        // The reported error after the last level is what greedy encoding with the codebooks leaves.
        double sum = 0;
        var reconstruction = new float[6];
        for (int i = 0; i < 400; i++)
        {
            var x = points.AsSpan(i * 6, 6);
            result.Codebooks.Decode(result.Codebooks.EncodeHard(x), reconstruction);
            sum += VectorMath.SquaredDistance(x, reconstruction);
        }
        Assert.Equal(result.MeanSquaredResidual[2], sum / 400, 4);
    }

    [Fact]
    public void CopesWithFewerDistinctPointsThanClusters()
    {
        var centroids = KMeans.Train([1, 1, 1, 1, 2, 2], 3, 2, 4, seed: 1);
        Assert.All(centroids, v => Assert.True(v is 1 or 2));
    }
}
