using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dpq.Data;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Models;
using Dpq.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Cli;

/// <summary>
/// dpq bench-query --url URL --n N [--queries Q] [--seed S] [--json FILE]: HTTP query latency of a
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

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var o = new Options(args);
        var url = o.Required("url").TrimEnd('/');
        var n = o.Int("n", 100_000, 1, 10_000_000);
        var queries = o.Int("queries", 200, 1, 10_000);
        var seed = o.Int("seed", 1);
        var shardCount = o.Int("shards", IndexKeys.DefaultShardCount, 1, 48);
        var jsonPath = o.String("json");
        o.EnsureAllRead();

        var storage = Storage.FromEnvironment();
        using var http = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromMinutes(10) };
        var version = (await new ModelRegistry(storage.Container(storage.Names.ModelsContainer)).GetActiveAsync(cancellationToken))?.Version
            ?? throw new UsageException("no active model: run ./dpq publish --model DIR first");
        await QueryClient.WaitForModelAsync(http, version, cancellationToken);
        var status = await QueryClient.IndexStatusAsync(http, cancellationToken);
        // The shortest code is one level: K = 2^bits of it, M = longest / shortest.
        var format = new CodeFormat(1 << status.CodeLengths.Min(), status.CodeLengths.Max() / status.CodeLengths.Min());

        var fill = Stopwatch.StartNew();
        var added = await FillAsync(storage, version, shardCount, format, status.Items, n, seed, cancellationToken);
        var fillSeconds = fill.Elapsed.TotalSeconds;
        if (added > 0) Console.WriteLine($"wrote {added:N0} synthetic images in {fillSeconds:F1} s ({added / fillSeconds:F0} images/s)");
        var compaction = Stopwatch.StartNew();
        var (passes, deltas) = await CompactAsync(storage, version, cancellationToken);
        var compactSeconds = compaction.Elapsed.TotalSeconds;
        Console.WriteLine($"compacted {deltas} deltas in {passes} passes, {compactSeconds:F1} s");

        var test = FashionMnist.Load(DatasetSplit.Test);
        var random = new Random(seed + 1);
        var pngs = QueryClient.TestPngs(test, Enumerable.Range(0, queries).Select(_ => random.Next(test.Count)).ToArray());

        // A cold load, timed here with a new cache of the query side's kind: the catalog, then every file.
        var load = Stopwatch.StartNew();
        var loaded = await new IndexCache(storage, new QueryOptions(), TimeProvider.System, NullLogger<IndexCache>.Instance).GetAsync(version, format, cancellationToken);
        var coldLoadMs = load.Elapsed.TotalMilliseconds;
        var heldMegabytes = loaded.Segments.Sum(s => s.HeldBytes) / 1e6;
        Console.WriteLine($"cold index load: {loaded.Items:N0} items from {loaded.SegmentsRead} segment files in {coldLoadMs:F0} ms; {heldMegabytes:F1} MB held");
        // The query host's first query after the compaction loads what it does not hold yet.
        var first = await QueryClient.QueryImageAsync(http, pngs[0], status.CodeLengths.Max(), 10, cancellationToken);
        var items = (await QueryClient.IndexStatusAsync(http, cancellationToken)).Items;
        Console.WriteLine($"index: {items:N0} items of model {version}; the query host's first query after compaction {first.ClientMs:F0} ms " +
            $"(server {first.ServerTotalMs:F0} ms: encode {first.EncodeMs:F0}, scan {first.ScanMs:F0})");
        Console.WriteLine($"{queries} test-image queries per code length, k=10, one at a time against the warm cache");
        Console.WriteLine("  bits  client p50 ms  p99 ms  server total p50  encode p50  scan p50");
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
            };
            rows.Add(row);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {bits,4}  {row.clientP50Ms,13:F2}  {row.clientP99Ms,6:F2}  {row.serverTotalP50Ms,16:F2}  {row.encodeP50Ms,10:F2}  {row.scanP50Ms,8:F2}"));
        }

        if (jsonPath is not null)
        {
            await using var file = File.Create(jsonPath);
            await JsonSerializer.SerializeAsync(file, new
            {
                items, modelVersion = version, queries, k = 10, coldLoadMs, heldMegabytes, firstQueryMs = first.ClientMs, firstQueryServerMs = first.ServerTotalMs, firstQueryEncodeMs = first.EncodeMs, firstQueryScanMs = first.ScanMs,
                syntheticImagesWritten = added, fillSeconds, deltasCompacted = deltas, compactSeconds, cores = Environment.ProcessorCount, results = rows,
            }, Json, cancellationToken);
        }
        return 0;
    }

    private static async Task<long> FillAsync(Dpq.Storage.StorageClients storage, string version, int shardCount, CodeFormat format,
        long present, long target, int seed, CancellationToken cancellationToken)
    {
        if (present >= target) return 0;
        var writer = new IndexWriter(storage, TimeProvider.System);
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
                images[i] = new IndexedImage(ImageId.FromBlobName(name), name, random.Next(10), code, SourceETag: null);
            }
            await writer.WriteAsync(version, format, shardCount, images, ct);
            progress.Report((int)Interlocked.Add(ref done, count));
        });
        return missing;
    }

    /// <summary>Compaction passes until no delta is left (the running worker may compact some of them meanwhile).</summary>
    private static async Task<(int Passes, int Deltas)> CompactAsync(Dpq.Storage.StorageClients storage, string version, CancellationToken cancellationToken)
    {
        var compactor = new SegmentCompactor(storage, TimeProvider.System, NullLogger<SegmentCompactor>.Instance);
        int passes = 0, deltas = 0;
        while (true)
        {
            // The fill is over: no delta is on its way, so none needs to settle.
            var result = await compactor.CompactOnceAsync(version, minDeltas: 1, settle: TimeSpan.Zero, cancellationToken);
            if (result == CompactionResult.Nothing) return (passes, deltas);
            if (result.LostFiles > 0)
                throw new InvalidOperationException($"{result.LostFiles} segment files of {version} are lost; the running worker rebuilds the index from the codes table, then run the bench again");
            passes++;
            deltas += result.DeltasMerged;
            Console.WriteLine($"compaction pass {passes}: {deltas} deltas merged so far; the {result.ShardsRewritten} shards rewritten hold {result.Items:N0} items");
        }
    }
}
