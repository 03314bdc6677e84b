using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Quantized scan of K = 16 codes in the <see cref="CodeLayout.Blocked64"/> layout. The vector kernels
/// split each code byte into its two nibbles and look both levels up with a byte shuffle of a 16-entry
/// table (vpshufb: AVX2 on 32 items, AVX-512BW on 64), FAISS pq4 fast scan style. Byte results are summed
/// in 16-bit lanes: adding a byte pair as one ushort accumulates (even item) + 256 × (odd item), and a
/// second accumulator of the ushort shifted right by 8 recovers the odd items, so no widening is needed.
/// Sums stay below 64 × 255 &lt; 2^15, so signed 16-bit compares against the threshold are exact.
/// Kernels are compiled fully optimised at once (AggressiveOptimization): a query calls each only a few
/// times, each a long loop, which tiered compilation would otherwise run as tier 0 and on-stack replacement.
/// </summary>
internal static unsafe class FastScan4
{
    private const int Block = BlockedCodes.BlockItems;

    public static void Scan<THandler>(ScanPath path, ShardSegment segment, QuantizedTables tables, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        int bytes = segment.Format.BytesPerCode;
        fixed (byte* codes = segment.CodeArray)
        fixed (byte* lut = tables.Values)
        {
            switch (path)
            {
                case ScanPath.QuantizedVector512:
                    ScanVector512(codes, bytes, lut, tables.Levels, start, end, ref handler);
                    break;
                case ScanPath.QuantizedVector256 when Avx2.IsSupported && bytes == 4 && tables.Levels == 8:
                    ScanVector256Levels8(codes, lut, start, end, ref handler);
                    break;
                case ScanPath.QuantizedVector256:
                    ScanVector256(codes, bytes, lut, tables.Levels, start, end, ref handler);
                    break;
                default:
                    ScanScalar(codes, bytes, lut, tables.Levels, start, end, ref handler);
                    break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanScalar<THandler>(byte* codes, int bytes, byte* lut, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        int threshold = handler.Threshold;
        for (int i = start; i < end; i++)
        {
            byte* lane = codes + BlockedCodes.Offset(i, 0, bytes);
            int sum = 0;
            for (int l = 0; l < levels; l++)
            {
                int b = lane[(l >> 1) * Block];
                sum += lut[(l << 4) + ((l & 1) == 0 ? b & 0xF : b >> 4)];
            }
            if (sum >= threshold)
            {
                handler.Offer(i, sum);
                threshold = handler.Threshold;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanVector256<THandler>(byte* codes, int bytes, byte* lut, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        var tables = stackalloc Vector256<byte>[levels];
        for (int l = 0; l < levels; l++) tables[l] = Vector256.Create(Vector128.Load(lut + l * 16));
        var nibble = Vector256.Create((byte)0xF);
        for (int first = start; first < end; first += Block)
        {
            byte* block = codes + (long)(first / Block) * Block * bytes;
            Vector256<ushort> total0 = default, odd0 = default, total1 = default, odd1 = default;
            for (int l = 0; l < levels; l += 2)
            {
                var v0 = Vector256.Load(block + (l >> 1) * Block);
                var v1 = Vector256.Load(block + (l >> 1) * Block + 32);
                Accumulate(tables[l], v0 & nibble, ref total0, ref odd0);
                Accumulate(tables[l], v1 & nibble, ref total1, ref odd1);
                if (l + 1 == levels) break;
                Accumulate(tables[l + 1], (v0.AsUInt16() >> 4).AsByte() & nibble, ref total0, ref odd0);
                Accumulate(tables[l + 1], (v1.AsUInt16() >> 4).AsByte() & nibble, ref total1, ref odd1);
            }
            ReportBlock(first, end, total0, odd0, total1, odd1, ref handler);
        }
    }

    /// <summary>
    /// <see cref="ScanVector256"/> for the common case, 32-bit codes scored on all 8 levels: no level
    /// loop, the eight tables and the nibble mask held in registers for the whole scan (the general
    /// kernel reloads them from the stack every level pair). Same sums, so same results.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanVector256Levels8<THandler>(byte* codes, byte* lut, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        const int Bytes = 4;
        var t0 = Vector256.Create(Vector128.Load(lut));
        var t1 = Vector256.Create(Vector128.Load(lut + 16));
        var t2 = Vector256.Create(Vector128.Load(lut + 32));
        var t3 = Vector256.Create(Vector128.Load(lut + 48));
        var t4 = Vector256.Create(Vector128.Load(lut + 64));
        var t5 = Vector256.Create(Vector128.Load(lut + 80));
        var t6 = Vector256.Create(Vector128.Load(lut + 96));
        var t7 = Vector256.Create(Vector128.Load(lut + 112));
        var nibble = Vector256.Create((byte)0xF);
        byte* block = codes + (long)(start / Block) * Block * Bytes;
        for (int first = start; first < end; first += Block, block += Block * Bytes)
        {
            Vector256<ushort> total0 = default, odd0 = default, total1 = default, odd1 = default;
            AccumulateRow(block, t0, t1, nibble, ref total0, ref odd0, ref total1, ref odd1);
            AccumulateRow(block + Block, t2, t3, nibble, ref total0, ref odd0, ref total1, ref odd1);
            AccumulateRow(block + 2 * Block, t4, t5, nibble, ref total0, ref odd0, ref total1, ref odd1);
            AccumulateRow(block + 3 * Block, t6, t7, nibble, ref total0, ref odd0, ref total1, ref odd1);
            ReportBlock(first, end, total0, odd0, total1, odd1, ref handler);
        }
    }

    /// <summary>One byte row of a block (64 items, two levels): low nibbles through table <paramref name="low"/>, high through <paramref name="high"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateRow(byte* row, Vector256<byte> low, Vector256<byte> high, Vector256<byte> nibble,
        ref Vector256<ushort> total0, ref Vector256<ushort> odd0, ref Vector256<ushort> total1, ref Vector256<ushort> odd1)
    {
        var v0 = Vector256.Load(row);
        var v1 = Vector256.Load(row + 32);
        Accumulate(low, v0 & nibble, ref total0, ref odd0);
        Accumulate(low, v1 & nibble, ref total1, ref odd1);
        Accumulate(high, (v0.AsUInt16() >> 4).AsByte() & nibble, ref total0, ref odd0);
        Accumulate(high, (v1.AsUInt16() >> 4).AsByte() & nibble, ref total1, ref odd1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanVector512<THandler>(byte* codes, int bytes, byte* lut, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        var tables = stackalloc Vector512<byte>[levels];
        for (int l = 0; l < levels; l++) tables[l] = Vector512.Create(Vector256.Create(Vector128.Load(lut + l * 16)));
        var nibble = Vector512.Create((byte)0xF);
        for (int first = start; first < end; first += Block)
        {
            byte* block = codes + (long)(first / Block) * Block * bytes;
            Vector512<ushort> total = default, odd = default;
            for (int l = 0; l < levels; l += 2)
            {
                var v = Vector512.Load(block + (l >> 1) * Block);
                Accumulate(tables[l], v & nibble, ref total, ref odd);
                if (l + 1 == levels) break;
                Accumulate(tables[l + 1], (v.AsUInt16() >> 4).AsByte() & nibble, ref total, ref odd);
            }
            var even = total - (odd << 8);
            int valid = Math.Min(Block, end - first);
            ulong mask = Passing(even, odd, Vector512.Create(ClampThreshold(handler.Threshold)));
            if (valid < Block) mask &= (1UL << valid) - 1;
            for (; mask != 0; mask &= mask - 1)
            {
                int lane = BitOperations.TrailingZeroCount(mask);
                handler.Offer(first + lane, SumAt(even, odd, lane));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(Vector256<byte> table, Vector256<byte> indices, ref Vector256<ushort> total, ref Vector256<ushort> odd)
    {
        var looked = Shuffle(table, indices).AsUInt16();
        total += looked;
        odd += looked >> 8;
    }

    private static void Accumulate(Vector512<byte> table, Vector512<byte> indices, ref Vector512<ushort> total, ref Vector512<ushort> odd)
    {
        var looked = Shuffle(table, indices).AsUInt16();
        total += looked;
        odd += looked >> 8;
    }

    /// <summary>
    /// vpshufb. The table repeats in every 128-bit lane and indices are below 16, so the in-lane instruction
    /// gives the full-width answer; Vector256/512.ShuffleNative would instead emulate a cross-lane byte
    /// shuffle (two vpshufb, a permute and a blend on AVX2). Without the instruction set, ShuffleNative's
    /// software fallback computes the same bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Shuffle(Vector256<byte> table, Vector256<byte> indices) =>
        Avx2.IsSupported ? Avx2.Shuffle(table, indices) : Vector256.ShuffleNative(table, indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Shuffle(Vector512<byte> table, Vector512<byte> indices) =>
        Avx512BW.IsSupported ? Avx512BW.Shuffle(table, indices) : Vector512.ShuffleNative(table, indices);

    /// <summary>
    /// A block's end in both AVX2 kernels: recovers the even items' sums, and offers every valid item
    /// (of the <paramref name="end"/> - <paramref name="first"/>, at most 64) whose sum reaches the threshold.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ReportBlock<THandler>(int first, int end, Vector256<ushort> total0, Vector256<ushort> odd0,
        Vector256<ushort> total1, Vector256<ushort> odd1, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        var even0 = total0 - (odd0 << 8);
        var even1 = total1 - (odd1 << 8);
        var threshold = Vector256.Create(ClampThreshold(handler.Threshold));
        uint mask0 = Passing(even0, odd0, threshold);
        uint mask1 = Passing(even1, odd1, threshold);
        if ((mask0 | mask1) == 0) return;
        int valid = Math.Min(Block, end - first);
        mask0 &= LowBits32(valid);
        mask1 &= LowBits32(valid - 32);
        for (; mask0 != 0; mask0 &= mask0 - 1)
            Report(first, BitOperations.TrailingZeroCount(mask0), even0, odd0, ref handler);
        for (; mask1 != 0; mask1 &= mask1 - 1)
            Report(first + 32, BitOperations.TrailingZeroCount(mask1), even1, odd1, ref handler);
    }

    /// <summary>Bit i set when item i (byte lane i) of the 32 has a sum &gt;= threshold.</summary>
    internal static uint Passing(Vector256<ushort> even, Vector256<ushort> odd, Vector256<short> threshold)
    {
        var evenPass = Vector256.GreaterThanOrEqual(even.AsInt16(), threshold).AsUInt16() & Vector256.Create((ushort)0x00FF);
        var oddPass = Vector256.GreaterThanOrEqual(odd.AsInt16(), threshold).AsUInt16() & Vector256.Create((ushort)0xFF00);
        return (evenPass | oddPass).AsByte().ExtractMostSignificantBits();
    }

    /// <summary>The same for 64 items in 512-bit vectors.</summary>
    internal static ulong Passing(Vector512<ushort> even, Vector512<ushort> odd, Vector512<short> threshold)
    {
        var evenPass = Vector512.GreaterThanOrEqual(even.AsInt16(), threshold).AsUInt16() & Vector512.Create((ushort)0x00FF);
        var oddPass = Vector512.GreaterThanOrEqual(odd.AsInt16(), threshold).AsUInt16() & Vector512.Create((ushort)0xFF00);
        return (evenPass | oddPass).AsByte().ExtractMostSignificantBits();
    }

    /// <summary>The sum of the item in byte lane <paramref name="lane"/>: even lanes are in <paramref name="even"/>, odd ones in <paramref name="odd"/>.</summary>
    internal static int SumAt(Vector256<ushort> even, Vector256<ushort> odd, int lane) =>
        (lane & 1) == 0 ? even.GetElement(lane >> 1) : odd.GetElement(lane >> 1);

    internal static int SumAt(Vector512<ushort> even, Vector512<ushort> odd, int lane) =>
        (lane & 1) == 0 ? even.GetElement(lane >> 1) : odd.GetElement(lane >> 1);

    private static void Report<THandler>(int first, int lane, Vector256<ushort> even, Vector256<ushort> odd, ref THandler handler)
        where THandler : struct, IApproxHandler =>
        handler.Offer(first + lane, SumAt(even, odd, lane));

    private static uint LowBits32(int count) => count >= 32 ? uint.MaxValue : count <= 0 ? 0 : (1u << count) - 1;

    /// <summary>Sums are 0..16320, so a threshold below 0 passes everything and one above short.MaxValue nothing.</summary>
    internal static short ClampThreshold(int threshold) => (short)Math.Clamp(threshold, 0, short.MaxValue);
}
