namespace Dpq.Quantization;

/// <summary>Codebooks from residual k-means, and how much each level leaves over.</summary>
/// <param name="MeanSquaredResidual">Per level l: the mean over points of ||r_{l+1}||^2, the squared
/// distance of the level's input residual to its nearest codeword.</param>
public sealed record ResidualKMeansResult(Codebooks Codebooks, float[] MeanSquaredResidual);

/// <summary>
/// Residual (progressive) k-means: level 1 clusters the points, level l clusters what the first
/// l-1 levels left over after greedy hard assignment. The natural starting point for DPQ's
/// codebooks, and what <see cref="Codebooks.EncodeHard"/> inverts.
/// </summary>
public static class ResidualKMeans
{
    public static ResidualKMeansResult Train(float[] points, int count, int dim, int levels, int k, int seed, int iterations = 25)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(levels, 1);
        var residual = points.AsSpan(0, count * dim).ToArray();
        var books = new float[levels * k * dim];
        var mse = new float[levels];
        var assignment = new int[count];
        for (int l = 0; l < levels; l++)
        {
            var centroids = KMeans.Train(residual, count, dim, k, seed + 7919 * l, iterations);
            centroids.CopyTo(books, l * k * dim);
            Array.Fill(assignment, -1);
            KMeans.Assign(residual, count, dim, centroids, k, assignment);
            double sum = 0;
            for (int i = 0; i < count; i++)
            {
                var r = residual.AsSpan(i * dim, dim);
                var c = centroids.AsSpan(assignment[i] * dim, dim);
                for (int j = 0; j < dim; j++) r[j] -= c[j];
                sum += VectorMath.Dot(r, r);
            }
            mse[l] = (float)(sum / count);
        }
        return new ResidualKMeansResult(new Codebooks(levels, k, dim, books), mse);
    }
}
