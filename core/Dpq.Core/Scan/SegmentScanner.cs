using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// Top-k search over shard segments. Validates the request, splits the segments into chunks of
/// <see cref="DefaultChunkItems"/> items, scans them on one thread or several (each worker keeps its own top-k)
/// and merges. Ties are broken by (segment, item) ascending, so every path and thread count returns the
/// same hits as a naive scan.
/// </summary>
public static class SegmentScanner
{
    /// <summary>Items per unit of parallel work: a multiple of the 64-item block, large enough to amortise scheduling.</summary>
    public const int DefaultChunkItems = 1 << 16;

    /// <summary>
    /// The <paramref name="k"/> best items of <paramref name="segments"/> for a query's lookup tables,
    /// best first. The tables' level count m (&lt;= the segments' M) selects the code prefix to score.
    /// </summary>
    public static ScanHit[] Search(IReadOnlyList<ShardSegment> segments, LookupTables tables, int k,
        ScanOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        options ??= new ScanOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads, "options.Threads");
        if (options.ChunkItems <= 0 || options.ChunkItems % BlockedCodes.BlockItems != 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.ChunkItems, "chunk size must be a positive multiple of 64");
        if (!Enum.IsDefined(options.Path))
            throw new ArgumentOutOfRangeException(nameof(options), options.Path, "unknown scan path");
        CheckSegments(segments, tables);
        if (options.Exclude is { } exclude && !exclude.Fits(segments))
            throw new ArgumentException("the exclusions were made for other segments (their number or sizes differ)", nameof(options));

        var chunks = Chunk(segments, options.ChunkItems);
        int threads = options.Threads == 0 ? Environment.ProcessorCount : options.Threads;
        ScanPath path = Resolve(options.Path, tables.Codewords, segments.Count > 0 ? segments[0].Format.BytesPerCode : 0);
        QuantizedTables? quantized = path is ScanPath.Exact or ScanPath.ExactVector256 ? null : QuantizedTables.Create(tables);
        ScanWorker NewWorker() => new(segments, tables, quantized, path, k, options.Labels, options.Exclude);

        var result = new TopK(k);
        if (threads == 1 || chunks.Count <= 1)
        {
            var worker = NewWorker();
            foreach (var chunk in chunks)
            {
                cancellationToken.ThrowIfCancellationRequested();
                worker.Scan(chunk);
            }
            worker.Finish().AddTo(result);
            return result.ToHits();
        }
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellationToken };
        Parallel.For(0, chunks.Count, parallel, NewWorker, (i, _, worker) =>
        {
            worker.Scan(chunks[i]);
            return worker;
        }, worker =>
        {
            var best = worker.Finish();
            lock (result) best.AddTo(result);
        });
        return result.ToHits();
    }

    /// <summary>
    /// The path <paramref name="requested"/> runs as. Auto is the fastest measured for the code format
    /// (docs/scanner.md): for K = 256, on 32-bit codes, the AVX-512 VBMI permute kernel where the CPU has
    /// it (written for the Zen 4 target; not timed here), else the AVX2 shuffle kernel, and the exact float kernel
    /// otherwise (the quantized kernels for other code sizes are scalar, and slower than exact); for K = 16
    /// the widest accelerated quantized kernel.
    /// </summary>
    public static ScanPath Resolve(ScanPath requested, int codewords, int bytesPerCode) => requested switch
    {
        ScanPath.Auto when codewords == 256 && bytesPerCode == 4 && System.Runtime.Intrinsics.X86.Avx512Vbmi.IsSupported
            && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated => ScanPath.QuantizedVector512,
        ScanPath.Auto when codewords == 256 && bytesPerCode == 4 && System.Runtime.Intrinsics.X86.Avx2.IsSupported => ScanPath.QuantizedVector256,
        ScanPath.Auto when codewords == 256 => ScanPath.Exact,
        ScanPath.Auto when System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated => ScanPath.QuantizedVector512,
        ScanPath.Auto when System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated => ScanPath.QuantizedVector256,
        ScanPath.Auto => ScanPath.QuantizedScalar,
        _ => requested,
    };

    private static void CheckSegments(IReadOnlyList<ShardSegment> segments, LookupTables tables)
    {
        if (segments.Count == 0) return;
        var first = segments[0] ?? throw new ArgumentException("segment 0 is null", nameof(segments));
        for (int s = 1; s < segments.Count; s++)
        {
            var segment = segments[s] ?? throw new ArgumentException($"segment {s} is null", nameof(segments));
            if (segment.Format != first.Format || segment.ModelVersion != first.ModelVersion)
                throw new ArgumentException($"segment {s} ({segment.Format}, model '{segment.ModelVersion}') does not match segment 0 ({first.Format}, model '{first.ModelVersion}')", nameof(segments));
        }
        if (tables.Codewords != first.Format.Codewords || tables.Levels > first.Format.Levels)
            throw new ArgumentException($"tables have {tables.Levels} levels of {tables.Codewords} codewords; segments are {first.Format}", nameof(tables));
    }

    private static List<ScanChunk> Chunk(IReadOnlyList<ShardSegment> segments, int chunkItems)
    {
        var chunks = new List<ScanChunk>();
        for (int s = 0; s < segments.Count; s++)
        {
            for (int start = 0; start < segments[s].Count; start += chunkItems)
                chunks.Add(new ScanChunk(s, start, Math.Min(segments[s].Count, start + chunkItems)));
        }
        return chunks;
    }
}

/// <summary>Items [Start, End) of segment <see cref="Segment"/>; Start is a multiple of the 64-item block.</summary>
internal readonly record struct ScanChunk(int Segment, int Start, int End);
