using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Items whose approximate (integer) score may still put them in the exact top k: every item seen with
/// approx &gt;= <see cref="Threshold"/> = (k-th best approx seen) - Slack. A min-heap of the k best approx
/// values keeps the k-th best current; the candidate buffer is compacted against the threshold when full
/// and grows when compacting frees less than half of it, so adding stays amortised O(log k).
/// <see cref="RerankInto"/> scores the survivors exactly. FAISS keeps a similar buffer (ReservoirHandler).
/// </summary>
internal sealed class ApproxCandidates(int k, int slack)
{
    private readonly int[] _best = new int[k];
    private int _bestCount;
    private long[] _keys = new long[Math.Max(4 * k, 1024)];
    private int[] _approx = new int[Math.Max(4 * k, 1024)];
    private int _count;

    public int Threshold { get; private set; } = int.MinValue;

    public void Offer(long key, int approx)
    {
        if (approx < Threshold) return;
        TrackBest(approx);
        if (_count == _keys.Length)
        {
            Compact();
            if (_count > _keys.Length / 2)
            {
                Array.Resize(ref _keys, _keys.Length * 2);
                Array.Resize(ref _approx, _approx.Length * 2);
            }
        }
        _keys[_count] = key;
        _approx[_count++] = approx;
    }

    /// <summary>Scores every candidate exactly (the same float sum as the exact path) and offers it to <paramref name="topK"/>.</summary>
    public unsafe void RerankInto(TopK topK, IReadOnlyList<ShardSegment> segments, LookupTables tables)
    {
        Compact();
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

    /// <summary>Adds <paramref name="approx"/> to the k best values and raises the threshold once there are k.</summary>
    private void TrackBest(int approx)
    {
        if (_bestCount < k)
        {
            int i = _bestCount++;
            for (int parent; i > 0 && _best[parent = (i - 1) >> 1] > approx; i = parent) _best[i] = _best[parent];
            _best[i] = approx;
        }
        else if (approx > _best[0])
        {
            int i = 0;
            for (int child; (child = 2 * i + 1) < k; i = child)
            {
                if (child + 1 < k && _best[child + 1] < _best[child]) child++;
                if (_best[child] >= approx) break;
                _best[i] = _best[child];
            }
            _best[i] = approx;
        }
        else
        {
            return;
        }
        if (_bestCount == k) Threshold = Math.Max(Threshold, _best[0] - slack);
    }

    private void Compact()
    {
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
