namespace Dpq.Scan;

/// <summary>
/// The k best (score, key) pairs seen: a binary heap whose root is the worst kept pair. A key is
/// (segment ordinal &lt;&lt; 32 | item), so "higher score, then lower key" is the documented total order and
/// the kept set does not depend on the order pairs arrive in.
/// </summary>
internal sealed class TopK
{
    private readonly float[] _scores;
    private readonly long[] _keys;
    private int _count;

    public TopK(int k)
    {
        _scores = new float[k];
        _keys = new long[k];
    }

    /// <summary>Scores below this cannot enter (equal ones can, on a lower key).</summary>
    public float Threshold => _count < _scores.Length ? float.NegativeInfinity : _scores[0];

    public static long Key(int segment, int item) => ((long)segment << 32) | (uint)item;

    public void Offer(long key, float score)
    {
        if (_count < _scores.Length)
        {
            SiftUp(_count++, score, key);
        }
        else if (Worse(_scores[0], _keys[0], score, key))
        {
            SiftDown(score, key);
        }
    }

    public void AddTo(TopK other)
    {
        for (int i = 0; i < _count; i++) other.Offer(_keys[i], _scores[i]);
    }

    /// <summary>The kept pairs, best first.</summary>
    public ScanHit[] ToHits()
    {
        var hits = new ScanHit[_count];
        for (int i = 0; i < _count; i++) hits[i] = new ScanHit((int)(_keys[i] >> 32), (int)_keys[i], _scores[i]);
        Array.Sort(hits, static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score)
            : a.Segment != b.Segment ? a.Segment.CompareTo(b.Segment) : a.Item.CompareTo(b.Item));
        return hits;
    }

    private static bool Worse(float scoreA, long keyA, float scoreB, long keyB) =>
        scoreA < scoreB || (scoreA == scoreB && keyA > keyB);

    private void SiftUp(int i, float score, long key)
    {
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!Worse(score, key, _scores[parent], _keys[parent])) break;
            _scores[i] = _scores[parent];
            _keys[i] = _keys[parent];
            i = parent;
        }
        _scores[i] = score;
        _keys[i] = key;
    }

    /// <summary>Replaces the root with (score, key) and restores the heap.</summary>
    private void SiftDown(float score, long key)
    {
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= _count) break;
            if (child + 1 < _count && Worse(_scores[child + 1], _keys[child + 1], _scores[child], _keys[child])) child++;
            if (!Worse(_scores[child], _keys[child], score, key)) break;
            _scores[i] = _scores[child];
            _keys[i] = _keys[child];
            i = child;
        }
        _scores[i] = score;
        _keys[i] = key;
    }
}

/// <summary>Feeds one segment's exact scores into a <see cref="TopK"/>, applying the label filter.</summary>
internal struct TopKHandler(TopK topK, int segment, ItemFilter filter) : IScoreHandler
{
    public readonly float Threshold => topK.Threshold;

    public readonly void Offer(int item, float score)
    {
        if (filter.Allows(item)) topK.Offer(TopK.Key(segment, item), score);
    }
}
