using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dpq.Data;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.Query;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;
using Answer = Dpq.Cli.QueryClient.TimedAnswer;

namespace Dpq.Cli;

/// <summary>
/// dpq bench load: a bounded load test of the running local stack (or one it starts, and stops again): P clients
/// post test images to /api/query back to back for S seconds while a burst of N uploads goes into the images
/// container, where the blob trigger (and, for what it misses, the reconciler) hands them to the worker. An index
/// with fewer than --base images is first filled to that many by a bulk import, so that every answer should have
/// results. Reports requests/s, errors, empty answers, latency, and how many of the uploads the index holds and
/// when, read from the segment files as a query host reads them. Numbers go to --json.
/// </summary>
public static class LoadBenchCommand
{

    public static Command Create()
    {
        var url = CliOptions.Text("--url", "the query function's base URL (default: the local stack's, started when none runs)", "URL");
        var seconds = CliOptions.Int("--seconds", "how long the queries run", 30, 1, 3600);
        var parallel = CliOptions.Int("--parallel", "queries in flight at once", 4, 1, 256);
        var uploads = CliOptions.Int("--uploads", "images uploaded in the burst", 300, 0, 59_000);
        var json = CliOptions.Text("--json", "where to write the numbers", "FILE");
        var model = CliOptions.Text("--model", "published when no model is active (default: the demo's, .build/models/default)", "DIR");
        var timeout = CliOptions.Int("--timeout", "seconds to wait, after the queries, for every upload to be indexed", 180, 0, 3600);
        var seed = CliOptions.Int("--seed", "which training images are uploaded", 1);
        var baseImages = CliOptions.Int("--base", "images the index holds before the queries start (bulk-imported when it holds fewer)", 1000, 0, 59_000);
        return new Command("load", "a bounded load test: concurrent image queries and an upload burst; requests/s, errors, p50/p99, uploads indexed")
            .With(url, seconds, parallel, uploads, json, model, timeout, seed, baseImages)
            .Runs((r, ct) => RunAsync(new LoadSettings(r.GetValue(seconds), r.GetValue(parallel), r.GetValue(uploads), r.GetValue(baseImages),
                TimeSpan.FromSeconds(r.GetValue(timeout)), r.GetValue(seed)), r.GetValue(url)?.TrimEnd('/'), r.GetValue(json), r.GetValue(model), ct));
    }

    private sealed record LoadSettings(int Seconds, int Parallel, int Uploads, int Base, TimeSpan Timeout, int Seed);

    private static async Task<int> RunAsync(LoadSettings settings, string? url, string? jsonPath, string? modelDir, CancellationToken cancellationToken)
    {
        var startedStack = false;
        if (url is null)
        {
            if (Storage.IsConfigured) throw new UsageException("with DpqStorage set, name the query function with --url");
            if (!(await Scripts.OutputAsync("stack.sh", ["status"], cancellationToken)).Contains("functions: running", StringComparison.Ordinal))
            {
                if (await Scripts.RunAsync("stack.sh", ["start"], cancellationToken) != 0) throw new UsageException("the local stack did not start (see .build/run/*.log)");
                startedStack = true;
            }
            url = await Scripts.OutputAsync("stack.sh", ["url"], cancellationToken);
        }
        try
        {
            return await RunAgainstAsync(settings, url, jsonPath, modelDir, cancellationToken);
        }
        finally
        {
            if (startedStack) await Scripts.RunAsync("stack.sh", ["stop"], CancellationToken.None);
        }
    }

    private static async Task<int> RunAgainstAsync(LoadSettings settings, string url, string? jsonPath, string? modelDir, CancellationToken cancellationToken)
    {
        var (seconds, parallel, uploadCount, timeout) = (settings.Seconds, settings.Parallel, settings.Uploads, settings.Timeout);
        using var services = await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
        var storage = services.GetRequiredService<StorageClients>();
        var version = (await services.GetRequiredService<ModelRegistry>().GetActiveAsync(cancellationToken))?.Version
            ?? await PublishCommand.PublishAndActivateAsync(services, Path.GetFullPath(modelDir ?? Path.Combine(Scripts.RepoRoot, ".build", "models", "default")), cancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromSeconds(30) };
        await QueryClient.WaitForModelAsync(http, version, cancellationToken);
        var manifest = await services.GetRequiredService<ModelRegistry>().ReadManifestAsync(version, cancellationToken)
            ?? throw new UsageException($"model {version} has no manifest");
        var format = new CodeFormat(manifest.K, manifest.M);

        var pngs = QueryClient.TestPngs(FashionMnist.Load(DatasetSplit.Test), Enumerable.Range(0, 200));
        var train = FashionMnist.Load(DatasetSplit.Train);
        var picked = Enumerable.Range(0, train.Count).ToArray();
        new Random(settings.Seed).Shuffle(picked);
        var baseline = await FillAsync(http, storage, train, picked[^settings.Base..], timeout, cancellationToken);
        var run = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string BlobName(int index) => $"load/{run}/train-{index:00000}.png";
        var names = picked[..uploadCount].Select(BlobName).ToHashSet(StringComparer.Ordinal);
        Console.WriteLine($"dpq bench load: {url}, model {version}, {baseline} images indexed; {parallel} clients for {seconds} s, {uploadCount} uploads from 2 s on");

        var clock = Stopwatch.StartNew();
        var answers = new ConcurrentQueue<Answer>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var querying = Enumerable.Range(0, parallel).Select(w => Task.Run(() => QueryLoopAsync(http, pngs, w, parallel, clock, answers, stop.Token))).ToArray();

        // The burst: every upload through the images container, as users add images one by one.
        await Task.Delay(TimeSpan.FromSeconds(Math.Min(2, seconds)), cancellationToken);
        var uploadStart = clock.Elapsed.TotalSeconds;
        var stored = uploadCount == 0 ? [] : await BulkUploader.UploadAsync(storage.Container(storage.Names.ImagesContainer), train, picked[..uploadCount], BlobName, 8,
            null, cancellationToken: cancellationToken);
        var uploadEnd = clock.Elapsed.TotalSeconds;

        var indexing = new ProgressBar("indexed", uploadCount);
        var tracker = new UploadTracker(services.GetRequiredService<IndexStore>(), version, format, names);
        var indexedAtQueryEnd = -1;
        double? allIndexedAt = null;
        var indexed = 0;
        while (true)
        {
            indexed = await tracker.CountAsync(cancellationToken);
            indexing.Report(indexed, clock.Elapsed.TotalSeconds < seconds ? "queries running" : "queries done");
            if (indexedAtQueryEnd < 0 && clock.Elapsed.TotalSeconds >= seconds) indexedAtQueryEnd = indexed;
            if (indexed == uploadCount)
            {
                allIndexedAt = clock.Elapsed.TotalSeconds;
                break;
            }
            if (clock.Elapsed.TotalSeconds > Math.Max(seconds, uploadEnd) + timeout.TotalSeconds) break;
            await Task.Delay(500, cancellationToken);
        }
        await Task.WhenAll(querying);
        if (indexedAtQueryEnd < 0) indexedAtQueryEnd = indexed;

        var list = answers.OrderBy(a => a.At).ToList();
        var duringIngest = list.Where(a => a.At >= uploadStart && a.At <= (allIndexedAt ?? double.MaxValue)).ToList();
        var errors = list.Count(a => a.Status != 200);
        var machine = BenchCommand.Machine();
        var numbers = new
        {
            date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            machine,
            cpuId = BenchMachine.CpuId(),
            url,
            modelVersion = version,
            seconds,
            parallel,
            indexedBefore = baseline,
            queries = Summary(list, seconds),
            queriesDuringIngest = Summary(duringIngest, (allIndexedAt ?? seconds) - uploadStart),
            statuses = list.GroupBy(a => a.Status).OrderBy(g => g.Key).ToDictionary(g => g.Key == 0 ? "no answer" : $"{g.Key}", g => g.Count()),
            uploads = new
            {
                requested = uploadCount,
                stored = stored.Count,
                startSeconds = Math.Round(uploadStart, 2),
                uploadSeconds = Math.Round(uploadEnd - uploadStart, 2),
                indexed,
                indexedWhenQueriesEnded = indexedAtQueryEnd,
                allIndexedSecondsAfterFirstUpload = allIndexedAt is { } a ? Math.Round(a - uploadStart, 2) : (double?)null,
            },
        };
        var text = JsonSerializer.Serialize(numbers, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        Console.WriteLine(text);
        if (jsonPath is not null) await File.WriteAllTextAsync(jsonPath, text, cancellationToken);
        return errors == 0 && indexed == uploadCount && stored.Count == uploadCount ? 0 : 1;
    }

    /// <summary>
    /// Makes the index hold at least as many images as <paramref name="indices"/> names (a bulk import of those of
    /// <paramref name="train"/> that are not stored yet) and returns what the query host then reports.
    /// </summary>
    private static async Task<long> FillAsync(HttpClient http, StorageClients storage, ImageSet train, int[] indices, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var held = (await QueryClient.IndexStatusAsync(http, cancellationToken)).Items;
        if (held >= indices.Length) return held;
        var import = new ProgressBar("base images", indices.Length);
        await BulkImporter.ImportAsync(storage, train, indices, i => $"load/base/train-{i:00000}.png", 16,
            new SynchronousProgress<UploadProgress>(p => import.Report(p.Done)), TimeProvider.System, cancellationToken: cancellationToken);
        var clock = Stopwatch.StartNew();
        while ((held = (await QueryClient.IndexStatusAsync(http, cancellationToken)).Items) < indices.Length)
        {
            if (clock.Elapsed > timeout) throw new UsageException($"the index holds {held} images {timeout.TotalSeconds:F0} s after the base import of {indices.Length}");
            await Task.Delay(500, cancellationToken);
        }
        return held;
    }

    private static async Task QueryLoopAsync(HttpClient http, byte[][] pngs, int worker, int parallel, Stopwatch clock, ConcurrentQueue<Answer> answers, CancellationToken stop)
    {
        for (var i = worker; !stop.IsCancellationRequested; i += parallel)
            answers.Enqueue(await QueryClient.PostTimedAsync(http, pngs[i % pngs.Length], clock.Elapsed.TotalSeconds));
    }

    private static object Summary(IReadOnlyList<Answer> answers, double seconds) => new
    {
        count = answers.Count,
        perSecond = seconds > 0 ? Math.Round(answers.Count / seconds, 1) : double.NaN,
        errors = answers.Count(a => a.Status != 200),
        empty = answers.Count(a => a.Status == 200 && a.Results == 0),
        p50Ms = answers.Count == 0 ? double.NaN : Math.Round(QueryClient.Percentile(answers.Select(a => a.Ms), 0.5), 2),
        p99Ms = answers.Count == 0 ? double.NaN : Math.Round(QueryClient.Percentile(answers.Select(a => a.Ms), 0.99), 2),
        maxMs = answers.Count == 0 ? double.NaN : Math.Round(answers.Max(a => a.Ms), 2),
    };

    /// <summary>Counts which of the uploaded names a query host would find: the version's segment files, merged as the query side merges them.</summary>
    private sealed class UploadTracker(IndexStore store, string version, CodeFormat format, IReadOnlySet<string> names)
    {
        private SegmentSetReader? _reader;

        public async Task<int> CountAsync(CancellationToken cancellationToken)
        {
            if (_reader is null)
            {
                if (await store.OpenAsync(version, cancellationToken) is not { } index) return 0;
                _reader = new SegmentSetReader(index, format);
            }
            var (entries, read, _) = await _reader.RefreshAsync(cancellationToken);
            var snapshot = IndexSnapshot.Build(version, format, entries, _reader, DateTimeOffset.UtcNow, read);
            var found = 0;
            for (var s = 0; s < snapshot.Segments.Length; s++)
                for (var i = 0; i < snapshot.Segments[s].Count; i++)
                    if (!snapshot.Hidden.Contains(s, i) && names.Contains(snapshot.Segments[s].Ids[i])) found++;
            return found;
        }
    }
}
