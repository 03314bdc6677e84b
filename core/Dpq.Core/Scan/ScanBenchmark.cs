using System.Diagnostics;
using System.Runtime.Intrinsics;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// One timed configuration: a path over a layout, averaged over the queries. NsPerCode is wall time;
/// CpuNsPerCode is the process's CPU time, which is what to compare on a machine shared with other work.
/// </summary>
public sealed record ScanBenchmarkResult(
    string Path, string Layout, int Codewords, int Levels, int Bits, int Items, int K, int Threads, int Queries,
    double NsPerCode, double CodesPerSecond, double MsPerQuery, double CpuNsPerCode);

/// <summary>What a loaded segment of the benchmark's size costs in memory.</summary>
public sealed record SegmentMemory(int Codewords, int Levels, int Items, long FileBytes, long HeldBytes, long LoadedManagedBytes);

/// <summary>
/// Times <see cref="SegmentScanner.Search"/> on random codes, per code path and layout: every path the CPU
/// runs natively (a 512-bit path without AVX-512 would time the software fallback, so it is skipped there).
/// Ids look like "images/0001234.png" so memory figures are realistic.
/// </summary>
public static class ScanBenchmark
{
    public static IReadOnlyList<ScanBenchmarkResult> Run(int items, int bits, int k, int threads, int queries = 10,
        int seed = 1, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(items, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(queries, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var formats = Formats(bits);
        var results = new List<ScanBenchmarkResult>();
        foreach (var format in formats)
        {
            progress?.Invoke($"building {items:N0} random codes, {format}");
            var segment = RandomSegment(format, items, seed);
            var tables = RandomTables(format, queries, seed);
            foreach (var path in TimedPaths())
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Invoke($"timing {path} on {segment.Layout}");
                var options = new ScanOptions { Path = path, Threads = threads };
                SegmentScanner.Search([segment], tables[0], k, options, cancellationToken);
                var process = Process.GetCurrentProcess();
                var cpuBefore = process.TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                foreach (var query in tables) SegmentScanner.Search([segment], query, k, options, cancellationToken);
                double seconds = clock.Elapsed.TotalSeconds;
                process.Refresh();
                double cpuSeconds = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
                double codes = (double)items * queries;
                results.Add(new ScanBenchmarkResult(path.ToString(), segment.Layout.ToString(), format.Codewords, format.Levels,
                    format.CodeBits, items, k, threads == 0 ? Environment.ProcessorCount : threads, queries,
                    seconds * 1e9 / codes, codes / seconds, seconds * 1e3 / queries, cpuSeconds * 1e9 / codes));
            }
        }
        return results;
    }

    /// <summary>Managed bytes a segment of <paramref name="items"/> random codes keeps once read from its file.</summary>
    public static IReadOnlyList<SegmentMemory> MeasureMemory(int items, int bits, int seed = 1)
    {
        var results = new List<SegmentMemory>();
        foreach (var format in Formats(bits))
        {
            byte[] file = ShardSegmentWriter.ToArray(RandomSegment(format, items, seed));
            long before = GC.GetTotalMemory(forceFullCollection: true);
            var segment = ShardSegmentReader.Read(file);
            long after = GC.GetTotalMemory(forceFullCollection: true);
            results.Add(new SegmentMemory(format.Codewords, format.Levels, items, file.LongLength, segment.HeldBytes, after - before));
            GC.KeepAlive(segment);
        }
        return results;
    }

    /// <summary>The code formats of <paramref name="bits"/> bits: 8-bit levels and 4-bit levels where the count fits.</summary>
    private static List<CodeFormat> Formats(int bits)
    {
        var formats = new List<CodeFormat>();
        if (bits % 8 == 0 && bits / 8 is >= 1 and <= CodeFormat.MaxLevels) formats.Add(new CodeFormat(256, bits / 8));
        if (bits % 4 == 0 && bits / 4 is >= 1 and <= CodeFormat.MaxLevels) formats.Add(new CodeFormat(16, bits / 4));
        if (formats.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(bits), bits, $"code length must be a multiple of 4 bits, at most {4 * CodeFormat.MaxLevels}");
        return formats;
    }

    private static IEnumerable<ScanPath> TimedPaths()
    {
        yield return ScanPath.Exact;
        yield return ScanPath.QuantizedScalar;
        if (Vector256.IsHardwareAccelerated) yield return ScanPath.QuantizedVector256;
        if (Vector512.IsHardwareAccelerated) yield return ScanPath.QuantizedVector512;
    }

    private static ShardSegment RandomSegment(CodeFormat format, int items, int seed)
    {
        var rng = new Random(seed);
        var builder = new ShardSegmentBuilder(format, "bench");
        var code = new byte[format.BytesPerCode];
        var levels = new int[format.Levels];
        for (int i = 0; i < items; i++)
        {
            for (int l = 0; l < levels.Length; l++) levels[l] = rng.Next(format.Codewords);
            format.Pack(levels, code);
            builder.Add($"images/{i:D7}.png", code, (byte)(i % 10));
        }
        return builder.Build();
    }

    private static LookupTables[] RandomTables(CodeFormat format, int queries, int seed)
    {
        var rng = new Random(seed + 1);
        return Enumerable.Range(0, queries).Select(_ => new LookupTables(format.Codewords, format.Levels,
            Enumerable.Range(0, format.Codewords * format.Levels).Select(_ => (float)rng.NextDouble()).ToArray())).ToArray();
    }
}
