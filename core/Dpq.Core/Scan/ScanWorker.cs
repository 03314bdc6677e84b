using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// One thread's share of a search: scans chunks with the chosen path into its own top k (exact) or
/// candidate buffer (quantized, re-ranked exactly in <see cref="Finish"/>).
/// </summary>
internal sealed unsafe class ScanWorker(IReadOnlyList<ShardSegment> segments, LookupTables tables,
    QuantizedTables? quantized, ScanPath path, int k, LabelFilter? labels, ItemExclusions? exclude)
{
    private readonly TopK _topK = new(k);
    private readonly ApproxCandidates? _candidates = quantized is null ? null : new ApproxCandidates(k, quantized.Slack);

    public void Scan(ScanChunk chunk)
    {
        var segment = segments[chunk.Segment];
        var filter = new ItemFilter(segment.LabelArray, labels?.For(segment), exclude?.For(chunk.Segment));
        if (_candidates is null)
        {
            var handler = new TopKHandler(_topK, chunk.Segment, filter);
            fixed (float* t = tables.ValueArray)
                ExactKernels.Scan(path, segment, t, tables.Levels, chunk.Start, chunk.End, ref handler);
            return;
        }
        var approx = new ApproxHandler(_candidates, chunk.Segment, filter);
        if (segment.Layout == CodeLayout.Blocked64)
            FastScan4.Scan(path, segment, quantized!, chunk.Start, chunk.End, ref approx);
        else
            FastScan8.Scan(path, segment, quantized!, chunk.Start, chunk.End, ref approx);
    }

    /// <summary>This worker's exact top k; call once, after its last chunk.</summary>
    public TopK Finish()
    {
        _candidates?.RerankInto(_topK, segments, tables);
        return _topK;
    }
}
