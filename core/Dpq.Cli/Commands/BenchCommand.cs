using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using Dpq.Scan;

namespace Dpq.Cli;

/// <summary>
/// dpq bench scan: times every scan path on N random codes of B bits (8-bit and 4-bit levels where B allows both),
/// measures a loaded segment's memory, prints a table and optionally writes the numbers as JSON.
/// </summary>
public static class BenchCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>dpq bench: scan, encode, and on local storage or the local stack: query, retrain, reconcile, faults and load.</summary>
    public static Command Create(Command query) => new Command("bench", "benchmarks whose numbers go into docs/")
        .With(CreateScan(), EncodeBenchCommand.Create(), query, RetrainBenchCommand.Create(), ReconcileBenchCommand.Create(), FaultBenchCommand.Create(), LoadBenchCommand.Create());

    private static Command CreateScan()
    {
        var n = CliOptions.Int("--n", "random codes scanned", 1_000_000, 1);
        var bits = CliOptions.Int("--bits", "code length (a multiple of 4)", 32, 4, 256);
        var k = CliOptions.Int("--k", "results per query", 100, 1);
        var threads = CliOptions.Int("--threads", "scan threads (0: one per core)", 1, 0);
        var queries = CliOptions.Int("--queries", "queries timed", 10, 1);
        var seed = CliOptions.Int("--seed", "random codes seed", 1);
        var json = CliOptions.Text("--json", "where to write the numbers", "FILE");
        return new Command("scan", "scanner benchmark: every scan path on random codes, and a loaded segment's memory")
            .With(n, bits, k, threads, queries, seed, json)
            .Runs((r, ct) => RunScanAsync(r.GetValue(n), r.GetValue(bits), r.GetValue(k), r.GetValue(threads), r.GetValue(queries), r.GetValue(seed), r.GetValue(json), ct));
    }

    private static async Task<int> RunScanAsync(int n, int bits, int k, int threads, int queries, int seed, string? jsonPath, CancellationToken cancellationToken)
    {
        if (bits % 4 != 0) throw new UsageException($"--bits must be a multiple of 4 (got {bits})");

        var memory = ScanBenchmark.MeasureMemory(n, bits, seed);
        var results = ScanBenchmark.Run(n, bits, k, threads, queries, seed, message => Console.Error.WriteLine(message), cancellationToken);
        var machine = Machine();

        Console.WriteLine($"scan benchmark: {n:N0} codes, {bits} bits, k={k}, {queries} queries; {machine.Cpu}, AVX2 {(machine.Vector256 ? "yes" : "no")}, AVX-512 {(machine.Vector512 ? "yes" : "no")}");
        Console.WriteLine($"{"path",-20} {"layout",-10} {"K",4} {"M",3} {"threads",7} {"ns/code",8} {"median",8} {"best",8} {"cpu ns",8} {"Mcodes/s",9} {"ms/query",9}");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Path,-20} {r.Layout,-10} {r.Codewords,4} {r.Levels,3} {r.Threads,7} {r.NsPerCode,8:F3} {r.MedianNsPerCode,8:F3} {r.BestNsPerCode,8:F3} {r.CpuNsPerCode,8:F3} {r.CodesPerSecond / 1e6,9:F1} {r.MsPerQuery,9:F2}"));
        foreach (var m in memory)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"memory K={m.Codewords} M={m.Levels}: file {m.FileBytes / 1e6:F2} MB, held {m.HeldBytes / 1e6:F2} MB, allocated while loading {m.AllocatedOnLoad / 1e6:F2} MB"));

        if (jsonPath is not null)
        {
            await using var file = File.Create(jsonPath);
            await JsonSerializer.SerializeAsync(file, new { machine, n, bits, k, threads, queries, seed, results, memory }, Json, cancellationToken);
        }
        return 0;
    }

    /// <summary>What a benchmark ran on, recorded with its numbers.</summary>
    internal sealed record MachineInfo(string Cpu, int Cores, string Os, string Runtime, bool Vector256, bool Vector512, bool Avx512Vbmi);

    internal static MachineInfo Machine() => new(CpuName(), Environment.ProcessorCount, RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription, Vector256.IsHardwareAccelerated, Vector512.IsHardwareAccelerated,
        System.Runtime.Intrinsics.X86.Avx512Vbmi.IsSupported);


    internal static string CpuName()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (!File.Exists(cpuInfo)) return RuntimeInformation.ProcessArchitecture.ToString();
        var line = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
    }
}
