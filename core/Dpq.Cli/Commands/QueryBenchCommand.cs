using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dpq.Data;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Cli;

/// <summary>
/// dpq bench-query-run (what ./dpq bench query runs against the stack it started): HTTP query latency of a
/// running local stack with N items indexed. Fills the active model's index up to N items with
/// synthetic images (random codes and labels, written through the worker's <see cref="IndexWriter"/>:
/// table rows, a delta segment per 1,600, the manifest), compacts the deltas into sealed shard
/// segments as the worker's compaction does, then times the first query (the cold index load of the
/// segment files) and Q test-image queries per code length against the warm cache: client latency
/// p50/p99 and the server's own timings. The scan's cost does not depend on the codes' values, so
/// random codes measure the same work as real ones.
/// </summary>
public static class QueryBenchCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static Command Create()
    {
        var url = CliOptions.Text("--url", "the functions host", "URL", required: true);
        var n = CliOptions.Int("--n", "items in the index", 100_000, 1, 10_000_000);
        var queries = CliOptions.Int("--queries", "test-image queries per code length", 200, 1, 10_000);
        var seed = CliOptions.Int("--seed", "synthetic codes seed", 1);
        var shards = CliOptions.Int("--shards", "index shards", IndexKeys.DefaultShardCount, 1, 48);
        var json = CliOptions.Text("--json", "where to write the numbers", "FILE");
        var host = CliOptions.Text("--host", "the functions host binary, for the cold-start measurement", "FILE");
        var throughput = CliOptions.Int("--throughput-queries", "queries of the throughput run (0: none)", 4000, 0, 1_000_000);
        return new Command("bench-query-run", "the query benchmark against a running stack (./dpq bench query runs it)")
            .With(url, n, queries, seed, shards, json, host, throughput)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(url), r.GetValue(n), r.GetValue(queries), r.GetValue(seed), r.GetValue(shards), r.GetValue(json), r.GetValue(host), r.GetValue(throughput), ct));
    }

    private static async Task<int> RunAsync(string urlText, int n, int queries, int seed, int shardCount, string? jsonPath, string? hostBinary, int throughputQueries, CancellationToken cancellationToken)
    {
        var url = urlText.TrimEnd('/');

        using var services = await Storage.FromEnvironmentAsync(cancellationToken);
        var store = services.GetRequiredService<IndexStore>();
        using var http = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromMinutes(10) };
        var version = (await services.GetRequiredService<ModelRegistry>().GetActiveAsync(cancellationToken))?.Version
            ?? throw new UsageException("no active model: run ./dpq publish --model DIR first");
        await QueryClient.WaitForModelAsync(http, version, cancellationToken);
        var status = await QueryClient.IndexStatusAsync(http, cancellationToken);
        // The shortest code is one level: K = 2^bits of it, M = longest / shortest.
        var format = new CodeFormat(1 << status.CodeLengths.Min(), status.CodeLengths.Max() / status.CodeLengths.Min());

        var fill = Stopwatch.StartNew();
        var added = await FillAsync(services.GetRequiredService<IndexWriter>(), await store.OpenOrCreateAsync(version, shardCount, format, cancellationToken), format, status.Items, n, seed, cancellationToken);
        var fillSeconds = fill.Elapsed.TotalSeconds;
        if (added > 0) Console.WriteLine($"wrote {added:N0} synthetic images in {fillSeconds:F1} s ({added / fillSeconds:F0} images/s)");
        var compaction = Stopwatch.StartNew();
        var (passes, deltas) = await CompactAsync(services.GetRequiredService<DeltaCompactor>(), (await store.OpenAsync(version, cancellationToken))!, cancellationToken);
        var compactSeconds = compaction.Elapsed.TotalSeconds;
        Console.WriteLine($"compacted {deltas} deltas in {passes} passes, {compactSeconds:F1} s");

        var test = FashionMnist.Load(DatasetSplit.Test);
        var random = new Random(seed + 1);
        var pngs = QueryClient.TestPngs(test, Enumerable.Range(0, queries).Select(_ => random.Next(test.Count)).ToArray());

        // A cold load, timed here with a new cache of the query side's kind: the catalog, then every file.
        var load = Stopwatch.StartNew();
        var loaded = await new IndexCache(new IndexStore(services.GetRequiredService<StorageClients>()) /* nothing held: a cold load */, new QueryOptions(), TimeProvider.System, NullLogger<IndexCache>.Instance).GetAsync(version, format, cancellationToken);
        var coldLoadMs = load.Elapsed.TotalMilliseconds;
        var heldMegabytes = loaded.Segments.Sum(s => s.HeldBytes) / 1e6;
        Console.WriteLine($"cold index load: {loaded.Items:N0} items from {loaded.SegmentsRead} segment files in {coldLoadMs:F0} ms; {heldMegabytes:F1} MB held");
        // The query host's first query after the compaction loads what it does not hold yet.
        var first = await QueryClient.QueryImageAsync(http, pngs[0], status.CodeLengths.Max(), 10, cancellationToken);
        var items = (await QueryClient.IndexStatusAsync(http, cancellationToken)).Items;
        Console.WriteLine($"index: {items:N0} items of model {version}; the query host's first query after compaction {first.ClientMs:F0} ms " +
            $"(server {first.ServerTotalMs:F0} ms: encode {first.EncodeMs:F0}, scan {first.ScanMs:F0})");
        Console.WriteLine($"{queries} test-image queries per code length, k=10, one at a time against the warm cache");
        Console.WriteLine("  bits  client p50 ms  p99 ms  server total p50  encode p50  scan p50  copy scan p50");
        var rows = new List<object>();
        foreach (var bits in status.CodeLengths)
        {
            await QueryClient.QueryImageAsync(http, pngs[0], bits, 10, cancellationToken); // warm this code length's path
            var timings = new List<QueryAnswer>();
            foreach (var png in pngs) timings.Add(await QueryClient.QueryImageAsync(http, png, bits, 10, cancellationToken));
            var row = new
            {
                bits,
                clientP50Ms = QueryClient.Percentile(timings.Select(t => t.ClientMs), 0.5),
                clientP99Ms = QueryClient.Percentile(timings.Select(t => t.ClientMs), 0.99),
                serverTotalP50Ms = QueryClient.Percentile(timings.Select(t => t.ServerTotalMs), 0.5),
                encodeP50Ms = QueryClient.Percentile(timings.Select(t => t.EncodeMs), 0.5),
                scanP50Ms = QueryClient.Percentile(timings.Select(t => t.ScanMs), 0.5),
                copyScanP50Ms = QueryClient.Percentile(timings.Select(t => t.CopyScanMs), 0.5),
            };
            rows.Add(row);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {bits,4}  {row.clientP50Ms,13:F2}  {row.clientP99Ms,6:F2}  {row.serverTotalP50Ms,16:F2}  {row.encodeP50Ms,10:F2}  {row.scanP50Ms,8:F2}  {row.copyScanP50Ms,13:F2}"));
        }

        var throughput = new List<object>();
        if (throughputQueries > 0)
        {
            Console.WriteLine($"{throughputQueries} queries at {status.CodeLengths.Max()} bits, k=10, from concurrent clients");
            Console.WriteLine("  clients  queries/s  client p50 ms  p99 ms");
            foreach (var clients in new[] { 8, 32 })
            {
                var (perSecond, latencies) = await ThroughputAsync(http, pngs, status.CodeLengths.Max(), clients, throughputQueries, cancellationToken);
                var row = new { clients, queriesPerSecond = perSecond, clientP50Ms = QueryClient.Percentile(latencies, 0.5), clientP99Ms = QueryClient.Percentile(latencies, 0.99) };
                throughput.Add(row);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {clients,7}  {perSecond,9:F0}  {row.clientP50Ms,13:F2}  {row.clientP99Ms,6:F2}"));
            }
        }

        var coldStarts = new List<object>();
        if (hostBinary is not null)
        {
            for (var run = 1; run <= 3; run++)
            {
                var cold = await ColdStartAsync(hostBinary, pngs[0], status.CodeLengths.Max(), cancellationToken);
                coldStarts.Add(cold);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"cold start {run}: a new query host process answered its first image query {cold.FirstAnswerMs:F0} ms after it started " +
                    $"(server {cold.ServerTotalMs:F0} ms of it: model {cold.ModelMs:F0}, index {cold.IndexMs:F0}, encode {cold.EncodeMs:F1}, scan {cold.ScanMs:F1})"));
            }
        }

        if (jsonPath is not null)
        {
            await using var file = File.Create(jsonPath);
            await JsonSerializer.SerializeAsync(file, new
            {
                machine = BenchCommand.Machine(),
                items, modelVersion = version, queries, k = 10, coldLoadMs, heldMegabytes, firstQueryMs = first.ClientMs, firstQueryServerMs = first.ServerTotalMs, firstQueryEncodeMs = first.EncodeMs, firstQueryScanMs = first.ScanMs,
                syntheticImagesWritten = added, fillSeconds, deltasCompacted = deltas, compactSeconds, cores = Environment.ProcessorCount, results = rows,
                throughput, coldStarts,
            }, Json, cancellationToken);
        }
        return 0;
    }

    /// <summary>Queries per second with <paramref name="clients"/> requests in flight at once, and each request's client latency.</summary>
    private static async Task<(double PerSecond, List<double> Latencies)> ThroughputAsync(HttpClient http, byte[][] pngs, int bits, int clients, int total,
        CancellationToken cancellationToken)
    {
        for (var i = 0; i < clients; i++) await QueryClient.QueryImageAsync(http, pngs[i % pngs.Length], bits, 10, cancellationToken); // connections
        var latencies = new List<double>(total);
        var gate = new Lock();
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int n;
            while ((n = Interlocked.Increment(ref next)) < total)
            {
                var answer = await QueryClient.QueryImageAsync(http, pngs[n % pngs.Length], bits, 10, cancellationToken);
                lock (gate) latencies.Add(answer.ClientMs);
            }
        }));
        return (total / clock.Elapsed.TotalSeconds, latencies);
    }

    private sealed record ColdStart(double FirstAnswerMs, double ServerTotalMs, double ModelMs, double IndexMs, double EncodeMs, double ScanMs);

    /// <summary>
    /// Starts a new query host process (the local functions host) with an empty model cache on its own
    /// port and times, from the process start, until it answers an image query with 200.
    /// </summary>
    private static async Task<ColdStart> ColdStartAsync(string hostBinary, byte[] png, int bits, CancellationToken cancellationToken)
    {
        const string Url = "http://127.0.0.1:7181";
        var cache = Directory.CreateTempSubdirectory("dpq-cold-start-").FullName;
        var connection = Environment.GetEnvironmentVariable("DpqStorage") ?? throw new UsageException("DpqStorage is not set");
        var psi = new ProcessStartInfo(hostBinary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(hostBinary)! };
        psi.Environment["DpqStorage"] = connection;
        psi.Environment["AzureWebJobsStorage"] = connection;
        psi.Environment["urls"] = Url;
        psi.Environment["Models__CacheDirectory"] = cache;
        psi.Environment["DPQ_LOCAL_HOST_ID"] = $"dpq-cold-{Guid.NewGuid():N}"[..32];
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        using var http = new HttpClient { BaseAddress = new Uri(Url + "/"), Timeout = TimeSpan.FromSeconds(30) };
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {hostBinary}");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            while (clock.Elapsed < TimeSpan.FromMinutes(2))
            {
                if (process.HasExited) throw new InvalidOperationException($"the query host exited with {process.ExitCode} before it answered");
                try
                {
                    var answer = await QueryClient.QueryImageAsync(http, png, bits, 10, cancellationToken);
                    var at = clock.Elapsed.TotalMilliseconds;
                    return new ColdStart(at, answer.ServerTotalMs, answer.ModelMs, answer.IndexMs, answer.EncodeMs, answer.ScanMs);
                }
                catch (Exception e) when (e is HttpRequestException or InvalidOperationException)
                {
                    await Task.Delay(5, cancellationToken); // not listening yet, or 503 while the model or index loads
                }
            }
            throw new TimeoutException("the new query host did not answer within 2 minutes");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Directory.Delete(cache, recursive: true);
        }
    }

    private static async Task<long> FillAsync(IndexWriter writer, VersionIndex index, CodeFormat format, long present, long target, int seed, CancellationToken cancellationToken)
    {
        if (present >= target) return 0;
        var missing = target - present;
        var progress = new ProgressBar("synthetic images", (int)missing);
        long done = 0;
        const int Chunk = 1600; // about 100 rows per shard: one full transaction each
        var chunks = (missing + Chunk - 1) / Chunk;
        await Parallel.ForAsync(0L, chunks, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (c, ct) =>
        {
            var random = new Random(HashCode.Combine(seed, c));
            var first = present + c * Chunk;
            var count = (int)Math.Min(Chunk, target - first);
            var images = new IndexedImage[count];
            for (var i = 0; i < count; i++)
            {
                var name = $"bench/synthetic-{first + i:00000000}.png";
                var code = new byte[format.Levels];
                for (var l = 0; l < code.Length; l++) code[l] = (byte)random.Next(format.Codewords);
                // A random copy code too (cross byte below Missing), so image queries pay for the copy scan as real ones do.
                var copyCode = new byte[Copies.CopyCodec.CodeBytes];
                random.NextBytes(copyCode);
                copyCode[Copies.CopyCodec.CrossByte] = (byte)random.Next(Copies.CopyCodec.CrossValues);
                images[i] = new IndexedImage(ImageId.FromBlobName(name), name, FashionMnist.ClassNames[random.Next(FashionMnist.Classes)], code, SourceETag: null, copyCode);
            }
            await writer.WriteAsync(index, format, images, ct);
            progress.Report((int)Interlocked.Add(ref done, count));
        });
        return missing;
    }

    /// <summary>Compaction passes until no delta is left (the running worker may compact some of them meanwhile).</summary>
    private static async Task<(int Passes, int Deltas)> CompactAsync(DeltaCompactor compactor, VersionIndex index, CancellationToken cancellationToken)
    {
        var version = index.ModelVersion;
        int passes = 0, deltas = 0;
        while (true)
        {
            // The fill is over: no delta is on its way, so none needs to settle.
            var result = await compactor.CompactOnceAsync(index, minDeltas: 1, settle: TimeSpan.Zero, cancellationToken);
            if (result == CompactionResult.Nothing) return (passes, deltas);
            if (result.LostFiles > 0)
                throw new InvalidOperationException($"{result.LostFiles} segment files of {version} are lost; the running worker rebuilds the index from the codes table, then run the bench again");
            passes++;
            deltas += result.DeltasMerged;
            Console.WriteLine($"compaction pass {passes}: {deltas} deltas merged so far; the {result.ShardsRewritten} shards rewritten hold {result.Items:N0} items");
        }
    }
}
