using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Dpq.Formats;

namespace Dpq.Scan;

/// <summary>
/// One timed configuration: a path over a layout. NsPerCode is the mean wall time over the queries;
/// CpuNsPerCode is the process's CPU time, which is what to compare on a machine shared with other work.
/// MedianNsPerCode and BestNsPerCode are the median and fastest single query: on a virtual machine whose
/// speed moves during a run (this project's, by up to 2x), the fastest query is the one least disturbed.
/// </summary>
public sealed record ScanBenchmarkResult(
    string Path, string Layout, int Codewords, int Levels, int Bits, int Items, int K, int Threads, int Queries,
    double NsPerCode, double CodesPerSecond, double MsPerQuery, double CpuNsPerCode,
    double MedianNsPerCode, double BestNsPerCode);

/// <summary>
/// What a loaded segment of the benchmark's size costs in memory: its file, the bytes of the arrays it keeps
/// (codes, labels, id blob and block starts) and every byte the reader allocated while loading it.
/// </summary>
public sealed record SegmentMemory(int Codewords, int Levels, int Items, long FileBytes, long HeldBytes, long AllocatedOnLoad);

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
            results.Add(TimeSequentialRead(segment, k, threads, queries));
            foreach (var path in TimedPaths())
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Invoke($"timing {path} on {segment.Layout}");
                results.Add(Time(path.ToString(), segment, tables, path, k, threads, cancellationToken));
            }
        }

        // The copy scan every image query adds (Copies/CopyCodec): the first 4 of 9 bytes per item, as a 32-bit code.
        progress?.Invoke($"building {items:N0} random copy codes");
        var copies = RandomSegment(Copies.CopyCodec.Format, items, seed);
        var copyTables = RandomTables(Copies.CopyCodec.Format, queries, seed);
        var copyPath = SegmentScanner.Resolve(ScanPath.Auto, Copies.CopyCodec.Codewords, Copies.CopyCodec.ScanBytes);
        progress?.Invoke($"timing the copy scan ({copyPath})");
        results.Add(Time($"CopyScan{copyPath}", copies, copyTables, copyPath, Math.Max(k, 100), threads, cancellationToken));
        return results;
    }

    private static ScanBenchmarkResult Time(string name, ShardSegment segment, LookupTables[] tables, ScanPath path, int k, int threads, CancellationToken cancellationToken)
    {
        int items = segment.Count, queries = tables.Length;
        var format = segment.Format;
        var options = new ScanOptions { Path = path, Threads = threads };
        SegmentScanner.Search([segment], tables[0], k, options, cancellationToken);
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var perQuery = new double[tables.Length];
        for (int q = 0; q < tables.Length; q++)
        {
            long queryStart = Stopwatch.GetTimestamp();
            SegmentScanner.Search([segment], tables[q], k, options, cancellationToken);
            perQuery[q] = Stopwatch.GetElapsedTime(queryStart).TotalSeconds * 1e9 / items;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        Array.Sort(perQuery);
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        double codes = (double)items * queries;
        return new ScanBenchmarkResult(name, segment.Layout.ToString(), format.Codewords, tables[0].Levels,
            format.CodeBits, items, k, threads == 0 ? Environment.ProcessorCount : threads, queries,
            seconds * 1e9 / codes, codes / seconds, seconds * 1e3 / queries, cpuSeconds * 1e9 / codes,
            perQuery[perQuery.Length / 2], perQuery[0]);
    }

    /// <summary>
    /// The floor any scan of this segment pays: summing its code bytes with 256-bit vectors, one thread.
    /// Reported as path "SequentialRead" so kernel times can be read relative to it on a busy machine.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ScanBenchmarkResult TimeSequentialRead(ShardSegment segment, int k, int threads, int queries)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(segment.LaidOutCodes);
        ulong checksum = 0;
        var clock = Stopwatch.StartNew();
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var perQuery = new double[queries];
        for (int q = 0; q < queries; q++)
        {
            long queryStart = Stopwatch.GetTimestamp();
            checksum += Sum(words);
            perQuery[q] = Stopwatch.GetElapsedTime(queryStart).TotalSeconds * 1e9 / segment.Count;
        }
        Array.Sort(perQuery);
        double seconds = clock.Elapsed.TotalSeconds;
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        GC.KeepAlive(checksum);
        double codes = (double)segment.Count * queries;
        return new ScanBenchmarkResult("SequentialRead", segment.Layout.ToString(), segment.Format.Codewords, segment.Format.Levels,
            segment.Format.CodeBits, segment.Count, k, 1, queries, seconds * 1e9 / codes, codes / seconds, seconds * 1e3 / queries,
            cpuSeconds * 1e9 / codes, perQuery[queries / 2], perQuery[0]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong Sum(ReadOnlySpan<ulong> words)
    {
        var sum = Vector256<ulong>.Zero;
        int i = 0;
        for (; i + Vector256<ulong>.Count <= words.Length; i += Vector256<ulong>.Count) sum += Vector256.Create<ulong>(words.Slice(i));
        ulong rest = 0;
        for (; i < words.Length; i++) rest += words[i];
        return rest + Vector256.Sum(sum);
    }

    /// <summary>Memory of a segment of <paramref name="items"/> random codes read back from its file.</summary>
    public static IReadOnlyList<SegmentMemory> MeasureMemory(int items, int bits, int seed = 1)
    {
        var results = new List<SegmentMemory>();
        foreach (var format in Formats(bits))
        {
            byte[] file = ShardSegmentWriter.ToArray(RandomSegment(format, items, seed));
            long before = GC.GetAllocatedBytesForCurrentThread();
            var segment = ShardSegmentReader.Read(file);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            results.Add(new SegmentMemory(format.Codewords, format.Levels, items, file.LongLength, segment.HeldBytes, allocated));
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
        if (Vector256.IsHardwareAccelerated) yield return ScanPath.ExactVector256;
        yield return ScanPath.QuantizedScalar;
        if (Vector256.IsHardwareAccelerated) yield return ScanPath.QuantizedVector256;
        if (Vector512.IsHardwareAccelerated) yield return ScanPath.QuantizedVector512;
    }

    private static readonly string[] BenchLabels = [.. Enumerable.Range(0, 10).Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>A segment of <paramref name="items"/> uniformly random codes with ids "images/0000000.png" onwards, ten classes in turn.</summary>
    public static ShardSegment RandomSegment(CodeFormat format, int items, int seed)
    {
        var rng = new Random(seed);
        var builder = new ShardSegmentBuilder(format, "bench");
        var code = new byte[format.BytesPerCode];
        var levels = new int[format.Levels];
        for (int i = 0; i < items; i++)
        {
            for (int l = 0; l < levels.Length; l++) levels[l] = rng.Next(format.Codewords);
            format.Pack(levels, code);
            builder.Add($"images/{i:D7}.png", code, BenchLabels[i % BenchLabels.Length]);
        }
        return builder.Build();
    }

    /// <summary>Lookup tables of uniform [0, 1) values for <paramref name="queries"/> queries.</summary>
    public static LookupTables[] RandomTables(CodeFormat format, int queries, int seed)
    {
        var rng = new Random(seed + 1);
        return Enumerable.Range(0, queries).Select(_ => new LookupTables(format.Codewords, format.Levels,
            Enumerable.Range(0, format.Codewords * format.Levels).Select(_ => (float)rng.NextDouble()).ToArray())).ToArray();
    }
}
