using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Float scoring, scalar: the test oracle and the re-rank of quantized candidates. A score is summed
/// level 0 first, starting from 0f, in every caller, so the same item always gets the same float.
/// Kernels are compiled fully optimised at once (AggressiveOptimization): a query calls each only a few
/// times, each a long loop, which tiered compilation would otherwise run as tier 0 and on-stack replacement.
/// </summary>
internal static unsafe class ExactKernels
{
    /// <summary>Score of a row-major K = 256 code; four levels per 32-bit read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScoreRow(byte* code, float* tables, int levels)
    {
        float score = 0f;
        int l = 0;
        for (; l + 4 <= levels; l += 4)
        {
            uint word = Unsafe.ReadUnaligned<uint>(code + l);
            float* t = tables + (l << 8);
            score += t[word & 0xFF];
            score += t[256 + ((word >> 8) & 0xFF)];
            score += t[512 + ((word >> 16) & 0xFF)];
            score += t[768 + (word >> 24)];
        }
        for (; l < levels; l++) score += tables[(l << 8) + code[l]];
        return score;
    }

    /// <summary>Score of the K = 16 code whose byte 0 is at <paramref name="lane"/> in a 64-item block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScoreBlocked(byte* lane, float* tables, int levels)
    {
        float score = 0f;
        int l = 0;
        for (; l + 2 <= levels; l += 2)
        {
            int b = lane[(l >> 1) * BlockedCodes.BlockItems];
            score += tables[(l << 4) + (b & 0xF)];
            score += tables[(l << 4) + 16 + (b >> 4)];
        }
        if (l < levels) score += tables[(l << 4) + (lane[(l >> 1) * BlockedCodes.BlockItems] & 0xF)];
        return score;
    }

    /// <summary>Exact score of one item, whatever the segment's layout.</summary>
    public static float Score(ShardSegment segment, int item, float* tables, int levels)
    {
        fixed (byte* codes = segment.CodeArray)
        {
            int bytes = segment.Format.BytesPerCode;
            return segment.Layout == CodeLayout.RowMajor
                ? ScoreRow(codes + (long)item * bytes, tables, levels)
                : ScoreBlocked(codes + BlockedCodes.Offset(item, 0, bytes), tables, levels);
        }
    }

    /// <summary>Scans with <see cref="ExactVector256"/> where asked for and supported (K = 16), else scalar.</summary>
    public static void Scan<THandler>(ScanPath path, ShardSegment segment, float* tables, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        fixed (byte* codes = segment.CodeArray)
        {
            int bytes = segment.Format.BytesPerCode;
            if (segment.Layout == CodeLayout.RowMajor)
                ScanRows(codes, bytes, tables, levels, start, end, ref handler);
            else if (path == ScanPath.ExactVector256 && ExactVector256.IsSupported)
                ExactVector256.ScanBlocks(codes, bytes, tables, levels, start, end, ref handler);
            else
                ScanBlocks(codes, bytes, tables, levels, start, end, ref handler);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanRows<THandler>(byte* codes, int bytes, float* tables, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        if (levels <= 4 && bytes == 4)
        {
            ScanRows32(codes, tables, levels, start, end, ref handler);
            return;
        }
        float threshold = handler.Threshold;
        byte* code = codes + (long)start * bytes;
        for (int i = start; i < end; i++, code += bytes)
        {
            float score = ScoreRow(code, tables, levels);
            if (score >= threshold)
            {
                handler.Offer(i, score);
                threshold = handler.Threshold;
            }
        }
    }

    /// <summary>256 zeros: the table of a level beyond the prefix, so that prefixes of 32-bit codes take the four-level kernel.</summary>
    private static readonly float* ZeroTable = (float*)NativeMemory.AllocZeroed(256 * sizeof(float));

    /// <summary>
    /// 32-bit codes (the common case), any prefix of 1-4 levels: one 32-bit read and four lookups per
    /// item, four items per iteration, with no inner level loop; levels past the prefix read a table
    /// of zeros (x + 0 = x, so scores equal the prefix's). An item's four additions depend on each
    /// other (3-4 cycles each); four items in flight hide that latency, leaving the loads as the
    /// limit. Same summation order as <see cref="ScoreRow"/>, so the same floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanRows32<THandler>(byte* codes, float* tables, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        float threshold = handler.Threshold;
        uint* words = (uint*)codes;
        float* t1 = levels > 1 ? tables + 256 : ZeroTable, t2 = levels > 2 ? tables + 512 : ZeroTable, t3 = levels > 3 ? tables + 768 : ZeroTable;
        int i = start;
        for (; i + 4 <= end; i += 4)
        {
            uint a = Unsafe.ReadUnaligned<uint>(words + i), b = Unsafe.ReadUnaligned<uint>(words + i + 1);
            uint c = Unsafe.ReadUnaligned<uint>(words + i + 2), d = Unsafe.ReadUnaligned<uint>(words + i + 3);
            float sa = 0f, sb = 0f, sc = 0f, sd = 0f;
            sa += tables[a & 0xFF]; sb += tables[b & 0xFF]; sc += tables[c & 0xFF]; sd += tables[d & 0xFF];
            sa += t1[(a >> 8) & 0xFF]; sb += t1[(b >> 8) & 0xFF]; sc += t1[(c >> 8) & 0xFF]; sd += t1[(d >> 8) & 0xFF];
            sa += t2[(a >> 16) & 0xFF]; sb += t2[(b >> 16) & 0xFF]; sc += t2[(c >> 16) & 0xFF]; sd += t2[(d >> 16) & 0xFF];
            sa += t3[a >> 24]; sb += t3[b >> 24]; sc += t3[c >> 24]; sd += t3[d >> 24];
            // Non-short-circuit ORs: four compares and no branch per item (Math.Max on floats costs a
            // dozen instructions for its NaN and signed-zero rules).
            if ((sa >= threshold) | (sb >= threshold) | (sc >= threshold) | (sd >= threshold))
            {
                if (sa >= threshold) { handler.Offer(i, sa); threshold = handler.Threshold; }
                if (sb >= threshold) { handler.Offer(i + 1, sb); threshold = handler.Threshold; }
                if (sc >= threshold) { handler.Offer(i + 2, sc); threshold = handler.Threshold; }
                if (sd >= threshold) { handler.Offer(i + 3, sd); threshold = handler.Threshold; }
            }
        }
        for (; i < end; i++)
        {
            float score = ScoreRow((byte*)(words + i), tables, levels);
            if (score >= threshold)
            {
                handler.Offer(i, score);
                threshold = handler.Threshold;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanBlocks<THandler>(byte* codes, int bytes, float* tables, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        float threshold = handler.Threshold;
        for (int first = start; first < end; first += BlockedCodes.BlockItems)
        {
            byte* block = codes + BlockedCodes.Offset(first, 0, bytes);
            int count = Math.Min(BlockedCodes.BlockItems, end - first);
            for (int lane = 0; lane < count; lane++)
            {
                float score = ScoreBlocked(block + lane, tables, levels);
                if (score >= threshold)
                {
                    handler.Offer(first + lane, score);
                    threshold = handler.Threshold;
                }
            }
        }
    }
}
