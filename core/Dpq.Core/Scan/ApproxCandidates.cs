using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Items whose approximate (integer) score may still put them in the exact top k: every item seen with
/// approx &gt;= <see cref="Threshold"/> = (k-th best approx seen) - Slack. The buffer is pruned when full and
/// grows when pruning frees less than half of it, so adding stays amortised O(1). <see cref="RerankInto"/>
/// scores the survivors exactly. FAISS keeps a similar buffer (ReservoirHandler).
/// </summary>
internal sealed class ApproxCandidates(int k, int slack)
{
    private long[] _keys = new long[Math.Max(4 * k, 1024)];
    private int[] _approx = new int[Math.Max(4 * k, 1024)];
    private int[] _scratch = [];
    private int _count;

    public int Threshold { get; private set; } = int.MinValue;

    public int Count => _count;

    public void Offer(long key, int approx)
    {
        if (approx < Threshold) return;
        if (_count == _keys.Length)
        {
            Prune();
            if (_count > _keys.Length / 2)
            {
                Array.Resize(ref _keys, _keys.Length * 2);
                Array.Resize(ref _approx, _approx.Length * 2);
            }
            if (approx < Threshold) return;
        }
        _keys[_count] = key;
        _approx[_count++] = approx;
    }

    /// <summary>Scores every candidate exactly (the same float sum as the exact path) and offers it to <paramref name="topK"/>.</summary>
    public unsafe void RerankInto(TopK topK, IReadOnlyList<ShardSegment> segments, LookupTables tables)
    {
        Prune();
        fixed (float* t = tables.ValueArray)
        {
            for (int i = 0; i < _count; i++)
            {
                long key = _keys[i];
                float score = ExactKernels.Score(segments[(int)(key >> 32)], (int)key, t, tables.Levels);
                topK.Offer(key, score);
            }
        }
    }

    private void Prune()
    {
        if (_count < k) return;
        if (_scratch.Length < _count) _scratch = new int[_keys.Length];
        var sorted = _scratch.AsSpan(0, _count);
        _approx.AsSpan(0, _count).CopyTo(sorted);
        sorted.Sort();
        Threshold = Math.Max(Threshold, sorted[_count - k] - slack);
        int kept = 0;
        for (int i = 0; i < _count; i++)
        {
            if (_approx[i] < Threshold) continue;
            _keys[kept] = _keys[i];
            _approx[kept++] = _approx[i];
        }
        _count = kept;
    }
}

/// <summary>Feeds one segment's approximate scores into <see cref="ApproxCandidates"/>, applying the label filter.</summary>
internal readonly struct ApproxHandler(ApproxCandidates candidates, int segment, ItemFilter filter) : IApproxHandler
{
    public int Threshold => candidates.Threshold;

    public void Offer(int item, int approx)
    {
        if (filter.Allows(item)) candidates.Offer(TopK.Key(segment, item), approx);
    }
}
