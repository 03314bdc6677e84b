using System.Numerics;
using System.Runtime.InteropServices;

namespace Dpq.Quantization;

/// <summary>Dot products and squared distances on float spans, one SIMD body (Vector&lt;float&gt;) plus a scalar tail.</summary>
public static class VectorMath
{
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} and {b.Length}");
        int i = 0;
        float sum = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var acc = Vector<float>.Zero;
            for (int v = 0; v < va.Length; v++) acc += va[v] * vb[v];
            sum = Vector.Sum(acc);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    public static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"lengths differ: {a.Length} and {b.Length}");
        int i = 0;
        float sum = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var acc = Vector<float>.Zero;
            for (int v = 0; v < va.Length; v++)
            {
                var d = va[v] - vb[v];
                acc += d * d;
            }
            sum = Vector.Sum(acc);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }
        return sum;
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
