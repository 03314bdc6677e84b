using System.Numerics;
using System.Runtime.InteropServices;

namespace Dpq.Quantization;

/// <summary>Dot products and squared distances on float spans, one SIMD body (Vector&lt;float&gt;) plus a scalar tail.</summary>
public static class VectorMath
{
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Sum<ProductOperator>(a, b);

    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Sum<SquaredDifferenceOperator>(a, b);

    /// <summary>sum over i of TOp(a[i], b[i]): a Vector&lt;float&gt; body, then a scalar tail.</summary>
    private static float Sum<TOp>(ReadOnlySpan<float> a, ReadOnlySpan<float> b) where TOp : struct, IPairOperator
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} and {b.Length}");
        int i = 0;
        float sum = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var acc = Vector<float>.Zero;
            for (int v = 0; v < va.Length; v++) acc += TOp.Invoke(va[v], vb[v]);
            sum = Vector.Sum(acc);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++) sum += TOp.Invoke(a[i], b[i]);
        return sum;
    }

    private interface IPairOperator
    {
        static abstract float Invoke(float a, float b);
        static abstract Vector<float> Invoke(Vector<float> a, Vector<float> b);
    }

    private readonly struct ProductOperator : IPairOperator
    {
        public static float Invoke(float a, float b) => a * b;
        public static Vector<float> Invoke(Vector<float> a, Vector<float> b) => a * b;
    }

    private readonly struct SquaredDifferenceOperator : IPairOperator
    {
        public static float Invoke(float a, float b) => (a - b) * (a - b);

        public static Vector<float> Invoke(Vector<float> a, Vector<float> b)
        {
            var d = a - b;
            return d * d;
        }
    }

    /// <summary>
    /// The index of the row of <paramref name="rows"/> (count x x.Length, row-major) nearest to
    /// <paramref name="x"/> in squared Euclidean distance; the lowest index wins a tie.
    /// </summary>
    public static int Nearest(ReadOnlySpan<float> x, ReadOnlySpan<float> rows, int count, out float distance)
    {
        int dim = x.Length;
        if (rows.Length < count * dim) throw new ArgumentException($"{rows.Length} values for {count} rows of {dim}");
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count));
        int best = 0;
        float bestDistance = float.PositiveInfinity;
        for (int k = 0; k < count; k++)
        {
            float d = SquaredDistance(x, rows.Slice(k * dim, dim));
            if (d < bestDistance)
            {
                bestDistance = d;
                best = k;
            }
        }
        distance = bestDistance;
        return best;
    }
}
