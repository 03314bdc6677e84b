using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Exact float scoring of K = 16 blocked codes, eight items per AVX2 vector. A level's 16 floats are two
/// 8-float halves; vpermps looks the nibble's low 3 bits up in both and bit 3 picks the half. Each lane adds
/// level 0 first from 0f like <see cref="ExactKernels.ScoreBlocked"/>, with the same IEEE single additions,
/// so the scores are bit-identical to the scalar oracle. A full block's eight groups are scored side by
/// side: eight independent vector add chains (one chain left the adds' latency exposed, 2.35 against 1.34-1.38
/// ns per code), each level pair's four table halves loaded once, and each group's bytes widened once for
/// both nibbles. Needs AVX2; elsewhere the scalar kernel runs.
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
        var nibble = Vector256.Create(0xF);
        for (int first = start; first < end; first += Block)
        {
            byte* block = codes + BlockedCodes.Offset(first, 0, bytes);
            int count = Math.Min(Block, end - first);
            if (count < Block)
            {
                ScanPartialBlock(block, tables, levels, first, count, nibble, ref handler);
                continue;
            }
            // The block's eight groups side by side: eight independent add chains, and each level's
            // two table halves loaded once for all of them.
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            int l = 0;
            for (; l + 2 <= levels; l += 2)
            {
                // Levels l and l + 1 share a byte row: widen each group's bytes once for both nibbles.
                byte* row = block + (l >> 1) * Block;
                var lowA = Vector256.Load(tables + (l << 4));
                var highA = Vector256.Load(tables + (l << 4) + 8);
                var lowB = Vector256.Load(tables + (l << 4) + 16);
                var highB = Vector256.Load(tables + (l << 4) + 24);
                AddPair(ref s0, row, nibble, lowA, highA, lowB, highB);
                AddPair(ref s1, row + 8, nibble, lowA, highA, lowB, highB);
                AddPair(ref s2, row + 16, nibble, lowA, highA, lowB, highB);
                AddPair(ref s3, row + 24, nibble, lowA, highA, lowB, highB);
                AddPair(ref s4, row + 32, nibble, lowA, highA, lowB, highB);
                AddPair(ref s5, row + 40, nibble, lowA, highA, lowB, highB);
                AddPair(ref s6, row + 48, nibble, lowA, highA, lowB, highB);
                AddPair(ref s7, row + 56, nibble, lowA, highA, lowB, highB);
            }
            if (l < levels) // an odd last level: the low nibbles of the last row
            {
                byte* row = block + (l >> 1) * Block;
                var low = Vector256.Load(tables + (l << 4));
                var high = Vector256.Load(tables + (l << 4) + 8);
                s0 += Lookup(row, 0, nibble, low, high);
                s1 += Lookup(row + 8, 0, nibble, low, high);
                s2 += Lookup(row + 16, 0, nibble, low, high);
                s3 += Lookup(row + 24, 0, nibble, low, high);
                s4 += Lookup(row + 32, 0, nibble, low, high);
                s5 += Lookup(row + 40, 0, nibble, low, high);
                s6 += Lookup(row + 48, 0, nibble, low, high);
                s7 += Lookup(row + 56, 0, nibble, low, high);
            }
            var threshold = Vector256.Create(handler.Threshold);
            var any = Vector256.GreaterThanOrEqual(Vector256.Max(Vector256.Max(Vector256.Max(s0, s1), Vector256.Max(s2, s3)),
                Vector256.Max(Vector256.Max(s4, s5), Vector256.Max(s6, s7))), threshold);
            if (any == Vector256<float>.Zero) continue;
            Report(s0, first, ref handler);
            Report(s1, first + 8, ref handler);
            Report(s2, first + 16, ref handler);
            Report(s3, first + 24, ref handler);
            Report(s4, first + 32, ref handler);
            Report(s5, first + 40, ref handler);
            Report(s6, first + 48, ref handler);
            Report(s7, first + 56, ref handler);
        }
    }

    /// <summary>Adds two levels to eight items' scores, in level order: the low nibbles of bytes p..p+7, then the high ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddPair(ref Vector256<float> score, byte* p, Vector256<int> nibble,
        Vector256<float> lowA, Vector256<float> highA, Vector256<float> lowB, Vector256<float> highB)
    {
        var packed = Avx2.ConvertToVector256Int32(p);
        score += Select(packed & nibble, lowA, highA);
        score += Select(packed >>> 4, lowB, highB);
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
