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
/// so the scores are bit-identical to the scalar oracle, and eight independent add chains hide the latency
/// that serialises the scalar sum. Needs AVX2; elsewhere the scalar kernel runs.
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
            for (int group = 0; group < count; group += 8)
            {
                var score = Vector256<float>.Zero;
                for (int l = 0; l < levels; l++)
                {
                    var packed = Avx2.ConvertToVector256Int32(block + (l >> 1) * Block + group);
                    var index = (l & 1) == 0 ? packed & nibble : packed >>> 4;
                    float* table = tables + (l << 4);
                    var low = Avx2.PermuteVar8x32(Vector256.Load(table), index);
                    var high = Avx2.PermuteVar8x32(Vector256.Load(table + 8), index);
                    score += Avx.BlendVariable(low, high, (index << 28).AsSingle());
                }
                uint mask = Vector256.GreaterThanOrEqual(score, Vector256.Create(handler.Threshold)).ExtractMostSignificantBits();
                if (count - group < 8) mask &= (1u << (count - group)) - 1;
                for (; mask != 0; mask &= mask - 1)
                {
                    int lane = BitOperations.TrailingZeroCount(mask);
                    handler.Offer(first + group + lane, score.GetElement(lane));
                }
            }
        }
    }
}
