using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Quantized scan of K = 256 codes in the <see cref="CodeLayout.RowMajor"/> layout. A 256-entry table does
/// not fit a byte shuffle, so the vector kernel gathers (AVX2 vpgatherdd) eight 32-bit table entries per
/// level for eight items whose code words it loads four levels at a time; it needs AVX2 and codes of a
/// multiple of 4 bytes, and falls back to the scalar kernel otherwise and for the last items of a chunk.
/// Kernels are compiled fully optimised at once (AggressiveOptimization): a query calls each only a few
/// times, each a long loop, which tiered compilation would otherwise run as tier 0 and on-stack replacement.
/// </summary>
internal static unsafe class FastScan8
{
    private const int Group = 8;

    public static void Scan<THandler>(ScanPath path, ShardSegment segment, QuantizedTables tables, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        int bytes = segment.Format.BytesPerCode;
        fixed (byte* codes = segment.CodeArray)
        fixed (byte* lut = tables.Values)
        fixed (int* wide = tables.WideValues)
        {
            if (path is ScanPath.QuantizedVector256 or ScanPath.QuantizedVector512 && Avx2.IsSupported && bytes % 4 == 0)
                start = ScanGather(codes, bytes, wide, tables.Levels, start, end, ref handler);
            ScanScalar(codes, bytes, lut, tables.Levels, start, end, ref handler);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanScalar<THandler>(byte* codes, int bytes, byte* lut, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        int threshold = handler.Threshold;
        byte* code = codes + (long)start * bytes;
        for (int i = start; i < end; i++, code += bytes)
        {
            int sum = 0, l = 0;
            for (; l + 4 <= levels; l += 4)
            {
                uint word = Unsafe.ReadUnaligned<uint>(code + l);
                byte* t = lut + (l << 8);
                sum += t[word & 0xFF] + t[256 + ((word >> 8) & 0xFF)] + t[512 + ((word >> 16) & 0xFF)] + t[768 + (word >> 24)];
            }
            for (; l < levels; l++) sum += lut[(l << 8) + code[l]];
            if (sum >= threshold)
            {
                handler.Offer(i, sum);
                threshold = handler.Threshold;
            }
        }
    }

    /// <summary>Scans whole groups of 8 items; returns the first item it left for the scalar kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ScanGather<THandler>(byte* codes, int bytes, int* wide, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        var rows = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * bytes;
        var low8 = Vector256.Create(0xFF);
        int i = start;
        for (; i + Group <= end; i += Group)
        {
            byte* group = codes + (long)i * bytes;
            var sum = Vector256<int>.Zero;
            for (int word = 0; word * 4 < levels; word++)
            {
                var packed = bytes == 4
                    ? Vector256.Load((int*)group)
                    : Avx2.GatherVector256((int*)(group + word * 4), rows, 1);
                for (int l = word * 4; l < Math.Min(levels, word * 4 + 4); l++)
                {
                    var index = ((packed >>> ((l & 3) * 8)) & low8) + Vector256.Create(l << 8);
                    sum += Avx2.GatherVector256(wide, index, 4);
                }
            }
            uint mask = Vector256.GreaterThanOrEqual(sum, Vector256.Create(handler.Threshold)).ExtractMostSignificantBits();
            for (; mask != 0; mask &= mask - 1)
            {
                int lane = BitOperations.TrailingZeroCount(mask);
                handler.Offer(i + lane, sum.GetElement(lane));
            }
        }
        return i;
    }
}
