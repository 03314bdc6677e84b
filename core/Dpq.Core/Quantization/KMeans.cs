namespace Dpq.Quantization;

/// <summary>
/// Lloyd's k-means with k-means++ seeding (Arthur and Vassilvitskii 2007), deterministic for a
/// seed: sampling uses one seeded <see cref="Random"/>, assignment runs in parallel per point and
/// the centroid sums are accumulated in point order. An empty cluster keeps its previous centroid.
/// </summary>
public static class KMeans
{
    /// <summary>Returns k centroids (k x dim, row-major) for the count x dim points in <paramref name="points"/>.</summary>
    public static float[] Train(float[] points, int count, int dim, int k, int seed, int iterations = 25)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (count < 1 || dim < 1 || k < 1) throw new ArgumentOutOfRangeException(nameof(count), "count, dim and k must be positive");
        if (points.LongLength < (long)count * dim) throw new ArgumentException($"{points.Length} values for {count} points of {dim}", nameof(points));
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);

        var rng = new Random(seed);
        var centroids = SeedPlusPlus(points, count, dim, k, rng);
        var assignment = new int[count];
        var sums = new double[k * dim];
        var sizes = new int[k];
        for (int iter = 0; iter < iterations; iter++)
        {
            bool changed = Assign(points, count, dim, centroids, k, assignment) || iter == 0;
            if (!changed) break;
            Array.Clear(sums);
            Array.Clear(sizes);
            for (int i = 0; i < count; i++)
            {
                int c = assignment[i];
                sizes[c]++;
                var p = points.AsSpan(i * dim, dim);
                var s = sums.AsSpan(c * dim, dim);
                for (int j = 0; j < dim; j++) s[j] += p[j];
            }
            for (int c = 0; c < k; c++)
            {
                if (sizes[c] == 0) continue;
                for (int j = 0; j < dim; j++) centroids[c * dim + j] = (float)(sums[c * dim + j] / sizes[c]);
            }
        }
        return centroids;
    }

    /// <summary>Nearest centroid of every point; returns whether any assignment changed.</summary>
    public static bool Assign(float[] points, int count, int dim, float[] centroids, int k, int[] assignment)
    {
        int changed = 0;
        Parallel.For(0, count, () => 0, (i, state, local) =>
        {
            int best = VectorMath.Nearest(points.AsSpan(i * dim, dim), centroids, k, out _);
            if (assignment[i] != best)
            {
                assignment[i] = best;
                local++;
            }
            return local;
        }, local => Interlocked.Add(ref changed, local));
        return changed > 0;
    }

    private static float[] SeedPlusPlus(float[] points, int count, int dim, int k, Random rng)
    {
        var centroids = new float[k * dim];
        var minDistance = new float[count];
        Array.Fill(minDistance, float.PositiveInfinity);
        int chosen = rng.Next(count);
        for (int c = 0; ; c++)
        {
            points.AsSpan(chosen * dim, dim).CopyTo(centroids.AsSpan(c * dim, dim));
            if (c == k - 1) break;
            var centre = centroids.AsMemory(c * dim, dim);
            Parallel.For(0, count, i =>
            {
                float d = VectorMath.SquaredDistance(points.AsSpan(i * dim, dim), centre.Span);
                if (d < minDistance[i]) minDistance[i] = d;
            });
            double total = 0;
            for (int i = 0; i < count; i++) total += minDistance[i];
            if (total <= 0)
            {
                chosen = rng.Next(count); // fewer distinct points than k: duplicates are harmless
                continue;
            }
            double target = rng.NextDouble() * total, run = 0;
            chosen = count - 1;
            for (int i = 0; i < count; i++)
            {
                run += minDistance[i];
                if (run > target)
                {
                    chosen = i;
                    break;
                }
            }
        }
        return centroids;
    }
}
