namespace Dpq.Scan;

/// <summary>Which scoring code a scan runs. Every path returns the same hits; they differ in speed.</summary>
public enum ScanPath
{
    /// <summary>The fastest path for the code format on this CPU: for K = 256 with 32-bit codes QuantizedVector512 on AVX-512 VBMI, QuantizedVector256 on AVX2 (Exact otherwise), the widest accelerated quantized kernel for K = 16 (see docs/scanner.md).</summary>
    Auto,

    /// <summary>Float table sums for every item, scalar: the test oracle.</summary>
    Exact,

    /// <summary>
    /// Float table sums for every item, eight K = 16 items per AVX2 vector (bit-identical to <see cref="Exact"/>);
    /// K = 256, and CPUs without AVX2, run the scalar kernel.
    /// </summary>
    ExactVector256,

    /// <summary>8-bit tables, scalar sums, exact re-rank of the candidates.</summary>
    QuantizedScalar,

    /// <summary>8-bit tables, 256-bit vectors (AVX2 byte shuffles: one per 16-entry table for K = 16, sixteen and a blend tree per 256-entry table for K = 256 with 32-bit codes), exact re-rank.</summary>
    QuantizedVector256,

    /// <summary>
    /// 8-bit tables, 512-bit vectors (AVX-512BW shuffles for K = 16; AVX-512 VBMI byte permutes for K = 256
    /// with 32-bit codes), exact re-rank. Runs in software where the CPU lacks the instructions (correct, slow).
    /// </summary>
    QuantizedVector512,
}

public sealed record ScanOptions
{
    /// <summary>Worker threads: 1 scans on the calling thread, 0 uses every core.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>When set, only items whose label is in the filter are scored.</summary>
    public LabelFilter? Labels { get; init; }

    /// <summary>When set, these items are never returned (built for the same list of segments as the scan).</summary>
    public ItemExclusions? Exclude { get; init; }

    public ScanPath Path { get; init; } = ScanPath.Auto;

    /// <summary>Items per unit of parallel work, a multiple of 64; tests shrink it to exercise merging.</summary>
    internal int ChunkItems { get; init; } = SegmentScanner.DefaultChunkItems;
}

/// <summary>
/// One result: item <see cref="Item"/> of segment <see cref="Segment"/> (its position in the list given to
/// the scan) and its exact score. Hits are ordered by score descending; equal scores by segment, then item,
/// ascending (lower index wins), so results never depend on threads or path.
/// </summary>
public readonly record struct ScanHit(int Segment, int Item, float Score);
