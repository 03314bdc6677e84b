namespace Dpq.Evaluation;

/// <summary>
/// Orders database items by score, highest first, ties broken by database order (the lower index
/// first). A stable least-significant-digit radix sort over order-preserving 32-bit keys, three
/// passes of 11 bits: linear time, and a tie order that does not depend on the sort algorithm.
/// </summary>
public sealed class Ranking
{
    private const int Bits = 11;
    private const int Buckets = 1 << Bits;
    private const int Passes = 3;
    private uint[] _keys = [];
    private uint[] _keysSwap = [];
    private int[] _swap = [];
    private readonly int[] _histogram = new int[Passes * Buckets];

    /// <summary>Writes into <paramref name="order"/> the item indices by descending score (ties: ascending index).</summary>
    public void SortDescending(ReadOnlySpan<float> scores, Span<int> order)
    {
        int n = scores.Length;
        if (order.Length < n) throw new ArgumentException("order shorter than scores", nameof(order));
        if (n == 0) return;
        if (_keys.Length < n)
        {
            _keys = new uint[n];
            _keysSwap = new uint[n];
            _swap = new int[n];
        }
        Array.Clear(_histogram);
        var keys = _keys.AsSpan(0, n);
        for (int i = 0; i < n; i++)
        {
            if (float.IsNaN(scores[i])) throw new ArgumentException($"score {i} is NaN", nameof(scores));
            uint key = DescendingKey(scores[i]);
            keys[i] = key;
            _histogram[key & (Buckets - 1)]++;
            _histogram[Buckets + ((key >> Bits) & (Buckets - 1))]++;
            _histogram[2 * Buckets + (key >> (2 * Bits))]++;
            order[i] = i;
        }

        Span<uint> srcKeys = keys, dstKeys = _keysSwap.AsSpan(0, n);
        Span<int> srcIdx = order[..n], dstIdx = _swap.AsSpan(0, n);
        bool inSwap = false;
        for (int pass = 0; pass < Passes; pass++)
        {
            var counts = _histogram.AsSpan(pass * Buckets, Buckets);
            if (counts[(int)((srcKeys[0] >> (pass * Bits)) & (Buckets - 1))] == n) continue; // every key shares this digit
            int sum = 0;
            for (int b = 0; b < Buckets; b++)
            {
                int c = counts[b];
                counts[b] = sum;
                sum += c;
            }
            int shift = pass * Bits;
            for (int i = 0; i < n; i++)
            {
                int slot = counts[(int)((srcKeys[i] >> shift) & (Buckets - 1))]++;
                dstKeys[slot] = srcKeys[i];
                dstIdx[slot] = srcIdx[i];
            }
            var tk = srcKeys; srcKeys = dstKeys; dstKeys = tk;
            var ti = srcIdx; srcIdx = dstIdx; dstIdx = ti;
            inSwap = !inSwap;
        }
        if (inSwap) srcIdx.CopyTo(order);
    }

    /// <summary>A key whose ascending order is the descending order of the floats (-0 and +0 are equal).</summary>
    public static uint DescendingKey(float score)
    {
        if (score == 0) score = 0; // fold -0 into +0
        uint bits = BitConverter.SingleToUInt32Bits(score);
        uint ascending = (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
        return ~ascending;
    }
}
