using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
        if (levels == 5)
        {
            ScanRows5(codes, bytes, tables, start, end, ref handler);
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

    /// <summary>
    /// Five-level prefixes of wider codes (40 bits of K = 256, which the 32-bit kernels cannot take): four items in flight, as in
    /// <see cref="ScanRows32"/>, so the five dependent additions of one item overlap with the others'.
    /// Same summation order as <see cref="ScoreRow"/> (from 0f, level by level), so the same floats; items
    /// are offered in order, each against the threshold left by the one before.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanRows5<THandler>(byte* codes, int bytes, float* tables, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        float* t1 = tables + 256, t2 = tables + 512, t3 = tables + 768, t4 = tables + 1024;
        float threshold = handler.Threshold;
        byte* a = codes + (long)start * bytes;
        int i = start;
        for (; i + 4 <= end; i += 4, a += 4 * bytes)
        {
            byte* b = a + bytes, c = b + bytes, d = c + bytes;
            uint wa = Unsafe.ReadUnaligned<uint>(a), wb = Unsafe.ReadUnaligned<uint>(b), wc = Unsafe.ReadUnaligned<uint>(c), wd = Unsafe.ReadUnaligned<uint>(d);
            float sa = 0f + tables[wa & 0xFF], sb = 0f + tables[wb & 0xFF], sc = 0f + tables[wc & 0xFF], sd = 0f + tables[wd & 0xFF];
            sa += t1[(wa >> 8) & 0xFF]; sb += t1[(wb >> 8) & 0xFF]; sc += t1[(wc >> 8) & 0xFF]; sd += t1[(wd >> 8) & 0xFF];
            sa += t2[(wa >> 16) & 0xFF]; sb += t2[(wb >> 16) & 0xFF]; sc += t2[(wc >> 16) & 0xFF]; sd += t2[(wd >> 16) & 0xFF];
            sa += t3[wa >> 24]; sb += t3[wb >> 24]; sc += t3[wc >> 24]; sd += t3[wd >> 24];
            sa += t4[a[4]]; sb += t4[b[4]]; sc += t4[c[4]]; sd += t4[d[4]];
            if (sa >= threshold || sb >= threshold || sc >= threshold || sd >= threshold)
            {
                if (sa >= threshold) { handler.Offer(i, sa); threshold = handler.Threshold; }
                if (sb >= threshold) { handler.Offer(i + 1, sb); threshold = handler.Threshold; }
                if (sc >= threshold) { handler.Offer(i + 2, sc); threshold = handler.Threshold; }
                if (sd >= threshold) { handler.Offer(i + 3, sd); threshold = handler.Threshold; }
            }
        }
        for (; i < end; i++, a += bytes)
        {
            float score = ScoreRow(a, tables, 5);
            if (score >= threshold)
            {
                handler.Offer(i, score);
                threshold = handler.Threshold;
            }
        }
    }

    /// <summary>
    /// 32-bit codes (the common case), any prefix of 1-4 levels: one 32-bit read and four lookups per
    /// item, four items per iteration, with no inner level loop. The tables are copied per chunk (4 KB),
    /// with zeros for levels past a prefix (x + 0 = x, so scores equal the prefix's), so one base pointer
    /// addresses every level. Bytes 1 and 2 of a code come out with one BMI1 bextr each (a shift and a
    /// zero-extension otherwise). An item's four additions depend on each other (3 cycles each); four
    /// items in flight hide that latency, leaving instruction throughput as the limit (about 14
    /// instructions per item; 1.24-1.28 ns per code against 1.56-1.75 before these changes). Same summation
    /// order as <see cref="ScoreRow"/>, so the same floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanRows32<THandler>(byte* codes, float* tables, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        // Level 0 stored as 0f + T[0][c] (only -0f changes, to +0f): the kernel then starts each score
        // from that entry with a load instead of an addition to 0f, and gets the same float.
        float* t = stackalloc float[4 * 256];
        var padded = new Span<float>(t, 4 * 256);
        padded.Clear();
        new ReadOnlySpan<float>(tables, levels * 256).CopyTo(padded);
        for (int c = 0; c < 256; c++) t[c] = 0f + t[c];
        uint* words = (uint*)codes;
        int i = ScanRows32Groups(words, t, start, end, ref handler);
        float threshold = handler.Threshold;
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

    /// <summary>
    /// The four-item loop of <see cref="ScanRows32"/> over all four levels of <paramref name="t"/>; returns the
    /// first item it left. Items that pass go through <see cref="OfferFour"/>, a call the loop makes rarely,
    /// so that no score has to live across a call and be saved to the stack every iteration.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ScanRows32Groups<THandler>(uint* words, float* t, int start, int end, ref THandler handler)
        where THandler : struct, IScoreHandler
    {
        float threshold = handler.Threshold;
        int i = start;
        for (; i + 4 <= end; i += 4)
        {
            uint a = Unsafe.ReadUnaligned<uint>(words + i), b = Unsafe.ReadUnaligned<uint>(words + i + 1);
            uint c = Unsafe.ReadUnaligned<uint>(words + i + 2), d = Unsafe.ReadUnaligned<uint>(words + i + 3);
            // Indices widened before the level offset is added, so the offset folds into the address.
            float sa = t[(nuint)(a & 0xFF)], sb = t[(nuint)(b & 0xFF)], sc = t[(nuint)(c & 0xFF)], sd = t[(nuint)(d & 0xFF)];
            sa += t[Byte1(a) + 256]; sb += t[Byte1(b) + 256]; sc += t[Byte1(c) + 256]; sd += t[Byte1(d) + 256];
            sa += t[Byte2(a) + 512]; sb += t[Byte2(b) + 512]; sc += t[Byte2(c) + 512]; sd += t[Byte2(d) + 512];
            sa += t[(nuint)(a >> 24) + 768]; sb += t[(nuint)(b >> 24) + 768]; sc += t[(nuint)(c >> 24) + 768]; sd += t[(nuint)(d >> 24) + 768];
            if (Max(Max(sa, sb), Max(sc, sd)) >= threshold) threshold = OfferFour(ref handler, i, sa, sb, sc, sd, threshold);
        }
        return i;
    }

    /// <summary>Offers those of items i..i+3 that reach the threshold, in order; returns the threshold after them.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float OfferFour<THandler>(ref THandler handler, int i, float sa, float sb, float sc, float sd, float threshold)
        where THandler : struct, IScoreHandler
    {
        if (sa >= threshold) { handler.Offer(i, sa); threshold = handler.Threshold; }
        if (sb >= threshold) { handler.Offer(i + 1, sb); threshold = handler.Threshold; }
        if (sc >= threshold) { handler.Offer(i + 2, sc); threshold = handler.Threshold; }
        if (sd >= threshold) { handler.Offer(i + 3, sd); threshold = handler.Threshold; }
        return threshold;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Byte1(uint word) => Bmi1.IsSupported ? Bmi1.BitFieldExtract(word, 8, 8) : (word >> 8) & 0xFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Byte2(uint word) => Bmi1.IsSupported ? Bmi1.BitFieldExtract(word, 16, 8) : (word >> 16) & 0xFF;

    /// <summary>
    /// The larger of two finite floats, as one maxss (Math.Max costs a dozen instructions for its NaN and
    /// signed-zero rules, which finite scores compared with &gt;= do not need). maxss returns its second
    /// operand when either is NaN, so this relies on scores being finite: <see cref="LookupTables"/> rejects
    /// non-finite values and values above 1e30 in magnitude, and 64 levels of those sum far below float.MaxValue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Max(float x, float y) =>
        Sse.IsSupported ? Sse.MaxScalar(Vector128.CreateScalarUnsafe(x), Vector128.CreateScalarUnsafe(y)).ToScalar() : (x >= y ? x : y);

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
