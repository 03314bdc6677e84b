using BenchmarkDotNet.Attributes;
using Dpq.Formats;
using Dpq.Scan;

namespace Dpq.Benchmarks;

/// <summary>
/// One query's top-100 over 1,000,000 random 32-bit codes, per code format and scan path, on one thread.
/// OperationsPerInvoke makes BenchmarkDotNet report time per code.
/// </summary>
[MemoryDiagnoser]
public class ScanKernelBenchmarks
{
    private const int Items = 1_000_000;
    private ShardSegment[] _segments = [];
    private LookupTables _tables = null!;
    private ScanOptions _options = null!;

    /// <summary>K = 256 with 4 levels, or K = 16 with 8 levels: 32 bits either way.</summary>
    [Params(256, 16)]
    public int Codewords { get; set; }

    [Params(ScanPath.Exact, ScanPath.ExactVector256, ScanPath.QuantizedScalar, ScanPath.QuantizedVector256)]
    public ScanPath Path { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var format = new CodeFormat(Codewords, Codewords == 256 ? 4 : 8);
        _segments = [ScanBenchmark.RandomSegment(format, Items, seed: 1)];
        _tables = ScanBenchmark.RandomTables(format, queries: 1, seed: 1)[0];
        _options = new ScanOptions { Path = Path, Threads = 1 };
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public ScanHit[] Top100() => SegmentScanner.Search(_segments, _tables, 100, _options);
}
