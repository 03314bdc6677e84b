using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Quantized scan of K = 256 codes in the <see cref="CodeLayout.RowMajor"/> layout. AVX2 has no byte lookup
/// into a 256-entry table, so the vector kernel builds one from sixteen 16-entry lookups (vpshufb on the
/// code's low nibble, one per value of its high nibble) and picks each byte's answer with a four-step tree
/// of byte blends (vpblendvb) on the high nibble's bits. It takes 32 items at a time: their 32-bit codes
/// (four levels) are transposed in registers so that one vector holds one level's bytes, and sums are kept
/// in 16-bit lanes as in <see cref="FastScan4"/>. It needs AVX2 and 32-bit codes; other code sizes, and the
/// last items of a chunk, take the scalar kernel.
/// Kernels are compiled fully optimised at once (AggressiveOptimization): a query calls each only a few
/// times, each a long loop, which tiered compilation would otherwise run as tier 0 and on-stack replacement.
/// </summary>
internal static unsafe class FastScan8
{
    /// <summary>Items per step of the vector kernel.</summary>
    private const int Group = 32;

    public static void Scan<THandler>(ScanPath path, ShardSegment segment, QuantizedTables tables, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        int bytes = segment.Format.BytesPerCode;
        fixed (byte* codes = segment.CodeArray)
        fixed (byte* lut = tables.Values)
        {
            if (path == ScanPath.QuantizedVector512 && bytes == 4)
            {
                start = ScanPermute(codes, lut, tables.Levels, start, end, ref handler);
            }
            else if (path == ScanPath.QuantizedVector256 && Avx2.IsSupported && bytes == 4)
            {
                fixed (byte* lanes = tables.LaneValues)
                    start = ScanShuffle(codes, lanes, tables.Levels, start, end, ref handler);
            }
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

    /// <summary>
    /// Scans whole groups of 32 items with 32-bit codes and 1 to 4 levels; returns the first item it left
    /// for the scalar kernel. <paramref name="lanes"/> is <see cref="QuantizedTables.LaneValues"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ScanShuffle<THandler>(byte* codes, byte* lanes, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        // In each 128-bit lane, four items' 4-byte codes become four 4-byte runs, one per level.
        var byLevel = Vector256.Create((byte)0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
            0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        var lowNibble = Vector256.Create((byte)0xF);
        int i = start;
        byte* group = codes + (long)i * 4;
        for (; i + Group <= end; i += Group, group += Group * 4)
        {
            var a = Avx2.Shuffle(Vector256.Load(group), byLevel).AsUInt32();
            var b = Avx2.Shuffle(Vector256.Load(group + 32), byLevel).AsUInt32();
            var c = Avx2.Shuffle(Vector256.Load(group + 64), byLevel).AsUInt32();
            var d = Avx2.Shuffle(Vector256.Load(group + 96), byLevel).AsUInt32();
            // Byte p of level vector l is level l of item ItemAt(p).
            var ab01 = Avx2.UnpackLow(a, b).AsUInt64();
            var ab23 = Avx2.UnpackHigh(a, b).AsUInt64();
            var cd01 = Avx2.UnpackLow(c, d).AsUInt64();
            var cd23 = Avx2.UnpackHigh(c, d).AsUInt64();
            Vector256<ushort> total = default, odd = default;
            Accumulate(Lookup(lanes, Avx2.UnpackLow(ab01, cd01).AsByte(), lowNibble), ref total, ref odd);
            if (levels > 1) Accumulate(Lookup(lanes + LevelBytes, Avx2.UnpackHigh(ab01, cd01).AsByte(), lowNibble), ref total, ref odd);
            if (levels > 2) Accumulate(Lookup(lanes + 2 * LevelBytes, Avx2.UnpackLow(ab23, cd23).AsByte(), lowNibble), ref total, ref odd);
            if (levels > 3) Accumulate(Lookup(lanes + 3 * LevelBytes, Avx2.UnpackHigh(ab23, cd23).AsByte(), lowNibble), ref total, ref odd);

            var even = total - (odd << 8);
            uint mask = FastScan4.Passing(even, odd, Vector256.Create(FastScan4.ClampThreshold(handler.Threshold)));
            for (; mask != 0; mask &= mask - 1)
            {
                int p = BitOperations.TrailingZeroCount(mask);
                handler.Offer(i + ItemAt(p), FastScan4.SumAt(even, odd, p));
            }
        }
        return i;
    }

    /// <summary>
    /// The 512-bit kernel: 64 items per step, 32-bit codes, 1 to 4 levels; returns the first item it left
    /// for the scalar kernel. Each level's bytes are cut out of the code words by shifts and two truncating
    /// narrows (so byte p is item p), looked up in the level's 256-entry table with two 128-entry byte
    /// permutes (AVX-512 VBMI vpermi2b) and a select on the code's top bit, and summed in 16-bit lanes.
    /// Without VBMI the permutes run as <see cref="Vector512"/> shuffles, in software where the CPU lacks
    /// AVX-512 (correct, slow: what the tests run here).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ScanPermute<THandler>(byte* codes, byte* lut, int levels, int start, int end, ref THandler handler)
        where THandler : struct, IApproxHandler
    {
        const int Step = 64;
        int i = start;
        byte* group = codes + (long)i * 4;
        for (; i + Step <= end; i += Step, group += Step * 4)
        {
            var w0 = Vector512.Load((uint*)group);
            var w1 = Vector512.Load((uint*)(group + 64));
            var w2 = Vector512.Load((uint*)(group + 128));
            var w3 = Vector512.Load((uint*)(group + 192));
            Vector512<ushort> total = default, odd = default;
            for (int l = 0; l < levels; l++)
            {
                int shift = 8 * l;
                var level = Vector512.Narrow(Vector512.Narrow(w0 >>> shift, w1 >>> shift), Vector512.Narrow(w2 >>> shift, w3 >>> shift));
                var looked = Lookup256(lut + l * 256, level).AsUInt16();
                total += looked;
                odd += looked >> 8;
            }
            var even = total - (odd << 8);
            ulong mask = FastScan4.Passing(even, odd, Vector512.Create(FastScan4.ClampThreshold(handler.Threshold)));
            for (; mask != 0; mask &= mask - 1)
            {
                int p = BitOperations.TrailingZeroCount(mask);
                handler.Offer(i + p, FastScan4.SumAt(even, odd, p));
            }
        }
        return i;
    }

    /// <summary>table[code] for 64 codes: the 128-entry halves by the low 7 bits, then bit 7 picks the half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Lookup256(byte* table, Vector512<byte> code)
    {
        var low = Permute128(Vector512.Load(table), Vector512.Load(table + 64), code);
        var high = Permute128(Vector512.Load(table + 128), Vector512.Load(table + 192), code);
        return Vector512.ConditionalSelect(Vector512.LessThan(code.AsSByte(), Vector512<sbyte>.Zero).AsByte(), high, low);
    }

    /// <summary>
    /// (lower ++ upper)[code &amp; 127]: vpermi2b where the CPU has AVX-512 VBMI (it reads the low 7 bits of
    /// each index), otherwise two 64-entry shuffles and a select on bit 6.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Permute128(Vector512<byte> lower, Vector512<byte> upper, Vector512<byte> code)
    {
        if (Avx512Vbmi.IsSupported) return Avx512Vbmi.PermuteVar64x8x2(lower, code, upper);
        var index = code & Vector512.Create((byte)0x3F);
        var bit6 = Vector512.Equals(code & Vector512.Create((byte)0x40), Vector512.Create((byte)0x40));
        return Vector512.ConditionalSelect(bit6, Vector512.Shuffle(upper, index), Vector512.Shuffle(lower, index));
    }

    /// <summary>Bytes of one level in <see cref="QuantizedTables.LaneValues"/>: 16 tables of 32 bytes.</summary>
    private const int LevelBytes = 16 * 32;

    /// <summary>
    /// The item (0..31 in its group) whose byte sits at position <paramref name="p"/> of a transposed level
    /// vector: 128-bit lane p / 16 holds items 4 (p / 16) + 8 j + r for source vector j = (p / 4) % 4 and row r = p % 4.
    /// </summary>
    internal static int ItemAt(int p) => ((p >> 2) & 3) * 8 + (p >> 4) * 4 + (p & 3);

    /// <summary>
    /// table[code] for 32 codes of one level: sixteen 16-entry lookups on the low nibble, then a blend
    /// tree that keeps, for each byte, the lookup whose index is its high nibble. vpblendvb selects on a
    /// byte's top bit, so the masks are the codes shifted left by 3, 2, 1 and 0 (as byte additions, which
    /// run on more ports than shifts).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Lookup(byte* table, Vector256<byte> code, Vector256<byte> lowNibble)
    {
        var index = code & lowNibble;
        var bit6 = code + code;
        var bit5 = bit6 + bit6;
        var bit4 = bit5 + bit5;
        var q0 = Pick(Pick(table, 0, index, bit4), Pick(table, 2, index, bit4), bit5);
        var q1 = Pick(Pick(table, 4, index, bit4), Pick(table, 6, index, bit4), bit5);
        var q2 = Pick(Pick(table, 8, index, bit4), Pick(table, 10, index, bit4), bit5);
        var q3 = Pick(Pick(table, 12, index, bit4), Pick(table, 14, index, bit4), bit5);
        return Avx2.BlendVariable(Avx2.BlendVariable(q0, q1, bit6), Avx2.BlendVariable(q2, q3, bit6), code);
    }

    /// <summary>Lookups in 16-entry tables <paramref name="high"/> and <paramref name="high"/> + 1, blended on bit 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Pick(byte* table, int high, Vector256<byte> index, Vector256<byte> bit4) =>
        Avx2.BlendVariable(
            Avx2.Shuffle(Vector256.Load(table + high * 32), index),
            Avx2.Shuffle(Vector256.Load(table + (high + 1) * 32), index),
            bit4);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Pick(Vector256<byte> low, Vector256<byte> high, Vector256<byte> mask) =>
        Avx2.BlendVariable(low, high, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(Vector256<byte> looked, ref Vector256<ushort> total, ref Vector256<ushort> odd)
    {
        total += looked.AsUInt16();
        odd += looked.AsUInt16() >> 8;
    }
}
