using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Exact float scoring of K = 16 blocked codes with AVX2. A level's 16 floats are split into four byte
/// planes (byte j of each float); for 32 items at once, four vpshufb look their nibbles up in the planes
/// and two rounds of interleaving (bytes, then 16-bit words) rebuild the 32 floats, exactly, as four
/// vectors of eight. Each lane adds level 0 first from 0f like <see cref="ExactKernels.ScoreBlocked"/>,
/// with the same IEEE single additions, so the scores are bit-identical to the scalar oracle. Per item and
/// level this is 1.5 shuffle-port instructions where two vpermps on 8-float halves and a blend took 3
/// (1.34-1.40 ns per code before, 0.94-0.96 after, 32-bit codes). The last, partial block of a chunk
/// still takes the vpermps kernel, eight items at a time. Needs AVX2; elsewhere the scalar kernel runs.
/// Kernels are compiled fully optimised at once (see <see cref="ExactKernels"/>).
/// </summary>
internal static unsafe class ExactVector256
{
    private const int Block = BlockedCodes.BlockItems;

    public static bool IsSupported => Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScanBlocks<THandler>(byte* codes, int bytes, float* tables, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        // Byte plane j of level l: byte j of the level's 16 floats, repeated in both 128-bit lanes.
        byte* planes = stackalloc byte[levels * PlaneBytes];
        for (int l = 0; l < levels; l++)
        {
            for (int c = 0; c < 16; c++)
            {
                uint bits = BitConverter.SingleToUInt32Bits(tables[(l << 4) + c]);
                for (int j = 0; j < 4; j++)
                    planes[l * PlaneBytes + j * 32 + c] = planes[l * PlaneBytes + j * 32 + 16 + c] = (byte)(bits >> (8 * j));
            }
        }
        var nibble = Vector256.Create((byte)0xF);
        var nibble32 = Vector256.Create(0xF);
        for (int first = start; first < end; first += Block)
        {
            byte* block = codes + BlockedCodes.Offset(first, 0, bytes);
            int count = Math.Min(Block, end - first);
            if (count < Block)
            {
                ScanPartialBlock(block, tables, levels, first, count, nibble32, ref handler);
                continue;
            }
            ScanHalf(block, planes, levels, nibble, first, ref handler);
            ScanHalf(block + 32, planes, levels, nibble, first + 32, ref handler);
        }
    }

    /// <summary>Bytes of one level's four byte planes.</summary>
    private const int PlaneBytes = 4 * 32;

    /// <summary>
    /// Scores 32 items of a block (bytes at <paramref name="half"/>, one per item in each byte row) on every
    /// level and offers those that reach the threshold. Each level's float is rebuilt from four byte lookups
    /// (vpshufb on the byte planes) and two rounds of byte and word interleaving; score vector j then holds,
    /// in lane e, item 16 (e / 4) + 4 j + e % 4 (<see cref="ItemAt"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScanHalf<THandler>(byte* half, byte* planes, int levels, Vector256<byte> nibble, int first, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int l = 0; l < levels; l++)
        {
            var row = Vector256.Load(half + (l >> 1) * Block);
            var index = (l & 1) == 0 ? row & nibble : (row.AsUInt16() >> 4).AsByte() & nibble;
            byte* plane = planes + l * PlaneBytes;
            var b0 = Avx2.Shuffle(Vector256.Load(plane), index);
            var b1 = Avx2.Shuffle(Vector256.Load(plane + 32), index);
            var b2 = Avx2.Shuffle(Vector256.Load(plane + 64), index);
            var b3 = Avx2.Shuffle(Vector256.Load(plane + 96), index);
            var low01 = Avx2.UnpackLow(b0, b1).AsUInt16();
            var low23 = Avx2.UnpackLow(b2, b3).AsUInt16();
            s0 += Avx2.UnpackLow(low01, low23).AsSingle();
            s1 += Avx2.UnpackHigh(low01, low23).AsSingle();
            var high01 = Avx2.UnpackHigh(b0, b1).AsUInt16();
            var high23 = Avx2.UnpackHigh(b2, b3).AsUInt16();
            s2 += Avx2.UnpackLow(high01, high23).AsSingle();
            s3 += Avx2.UnpackHigh(high01, high23).AsSingle();
        }
        var threshold = Vector256.Create(handler.Threshold);
        var any = Vector256.GreaterThanOrEqual(Vector256.Max(Vector256.Max(s0, s1), Vector256.Max(s2, s3)), threshold);
        if (any == Vector256<float>.Zero) return;
        ReportHalf(s0, first, 0, ref handler);
        ReportHalf(s1, first, 1, ref handler);
        ReportHalf(s2, first, 2, ref handler);
        ReportHalf(s3, first, 3, ref handler);
    }

    /// <summary>The item (0..31 of a half block) in lane <paramref name="e"/> of score vector <paramref name="j"/>.</summary>
    internal static int ItemAt(int j, int e) => (e >> 2) * 16 + j * 4 + (e & 3);

    private static void ReportHalf<THandler>(Vector256<float> score, int first, int j, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        uint mask = Vector256.GreaterThanOrEqual(score, Vector256.Create(handler.Threshold)).ExtractMostSignificantBits();
        for (; mask != 0; mask &= mask - 1)
        {
            int e = BitOperations.TrailingZeroCount(mask);
            handler.Offer(first + ItemAt(j, e), score.GetElement(e));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Select(Vector256<int> index, Vector256<float> low, Vector256<float> high) =>
        Avx.BlendVariable(Avx2.PermuteVar8x32(low, index), Avx2.PermuteVar8x32(high, index), (index << 28).AsSingle());

    /// <summary>Level values of eight items: the nibble at <paramref name="shift"/> of bytes p..p+7 through the two table halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Lookup(byte* p, int shift, Vector256<int> nibble, Vector256<float> low, Vector256<float> high)
    {
        return Select((Avx2.ConvertToVector256Int32(p) >>> shift) & nibble, low, high);
    }

    /// <summary>Offers the items of one group (those in <paramref name="valid"/>) whose score reaches the handler's current threshold.</summary>
    private static void Report<THandler>(Vector256<float> score, int first, ref THandler handler, uint valid = 0xFF)
        where THandler : struct, IScoreHandler
    {
        uint mask = Vector256.GreaterThanOrEqual(score, Vector256.Create(handler.Threshold)).ExtractMostSignificantBits() & valid;
        for (; mask != 0; mask &= mask - 1)
        {
            int lane = BitOperations.TrailingZeroCount(mask);
            handler.Offer(first + lane, score.GetElement(lane));
        }
    }

    /// <summary>The last, partial block: one group of eight at a time.</summary>
    private static void ScanPartialBlock<THandler>(byte* block, float* tables, int levels, int first, int count, Vector256<int> nibble, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        for (int group = 0; group < count; group += 8)
        {
            var score = Vector256<float>.Zero;
            for (int l = 0; l < levels; l++)
                score += Lookup(block + (l >> 1) * Block + group, (l & 1) << 2, nibble, Vector256.Load(tables + (l << 4)), Vector256.Load(tables + (l << 4) + 8));
            Report(score, first + group, ref handler, count - group < 8 ? (1u << (count - group)) - 1 : 0xFF);
        }
    }
}
