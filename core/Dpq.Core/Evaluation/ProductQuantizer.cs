using Dpq.Quantization;

namespace Dpq.Evaluation;

/// <summary>
/// Product quantization (Jégou et al. 2011), the baseline DPQ is measured against: the feature is
/// cut into S contiguous sub-vectors of D / S dimensions, each quantized by its own k-means
/// (k-means++ seeding, fixed seed) with <see cref="Centroids"/> centroids; a code is S bytes.
/// Search by inner product uses the same lookup-table sum as DPQ: T[s, j] = &lt;q_s, c_s[j]&gt;.
/// </summary>
public sealed class ProductQuantizer
{
    private readonly float[][] _centroids;

    private ProductQuantizer(int dimension, int subQuantizers, int centroids, float[][] books)
    {
        (Dimension, SubQuantizers, Centroids, _centroids) = (dimension, subQuantizers, centroids, books);
    }

    public int Dimension { get; }
    public int SubQuantizers { get; }
    public int Centroids { get; }
    public int SubDimension => Dimension / SubQuantizers;

    public ReadOnlySpan<float> Centroid(int sub, int index) => _centroids[sub].AsSpan(index * SubDimension, SubDimension);

    public static ProductQuantizer Train(float[] features, int count, int dimension, int subQuantizers, int seed, int centroids = 256, int iterations = 25)
    {
        if (subQuantizers < 1 || dimension % subQuantizers != 0)
            throw new ArgumentException($"D = {dimension} is not divisible into {subQuantizers} sub-vectors");
        if (centroids < 2 || centroids > 256) throw new ArgumentOutOfRangeException(nameof(centroids), centroids, "2..256 (one byte per sub-code)");
        int sub = dimension / subQuantizers;
        var books = new float[subQuantizers][];
        var part = new float[count * sub];
        for (int s = 0; s < subQuantizers; s++)
        {
            for (int i = 0; i < count; i++) features.AsSpan(i * dimension + s * sub, sub).CopyTo(part.AsSpan(i * sub, sub));
            books[s] = KMeans.Train(part, count, sub, centroids, seed + 104729 * s, iterations);
        }
        return new ProductQuantizer(dimension, subQuantizers, centroids, books);
    }

    /// <summary>count x S codes, the nearest centroid of each sub-vector.</summary>
    public byte[] Encode(float[] features, int count)
    {
        var codes = new byte[count * SubQuantizers];
        int sub = SubDimension;
        Parallel.For(0, count, i =>
        {
            for (int s = 0; s < SubQuantizers; s++)
                codes[i * SubQuantizers + s] = (byte)VectorMath.Nearest(features.AsSpan(i * Dimension + s * sub, sub), _centroids[s], Centroids, out _);
        });
        return codes;
    }

    /// <summary>S x Centroids tables of inner products between the query's sub-vectors and the centroids.</summary>
    public void LookupTables(ReadOnlySpan<float> query, Span<float> destination)
    {
        if (query.Length != Dimension) throw new ArgumentException($"query has {query.Length} values, D = {Dimension}", nameof(query));
        int sub = SubDimension;
        for (int s = 0; s < SubQuantizers; s++)
            for (int j = 0; j < Centroids; j++)
                destination[s * Centroids + j] = VectorMath.Dot(query.Slice(s * sub, sub), _centroids[s].AsSpan(j * sub, sub));
    }
}
