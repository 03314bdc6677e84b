using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Dpq.Data;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Ingest;

namespace Dpq.Cli;

/// <summary>
/// dpq demo-run --model DIR --url URL [--count N] [--uploads U] [--queries Q] [--seed S]: the client
/// half of ./dpq demo, against a running local stack. Publishes the model, uploads U Fashion-MNIST
/// training images as PNG blobs (class in metadata) to the images container, where the blob trigger
/// picks them up, and bulk-imports N more; waits until the index has them all, then sends Q test
/// images to the HTTP query function at every code length and reports precision@10 and latency.
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "the model folder", "DIR", required: true);
        var url = CliOptions.Text("--url", "the functions host", "URL", required: true);
        var count = CliOptions.Int("--count", "images bulk-imported", 3000, 1, 59000);
        var uploads = CliOptions.Int("--uploads", "images uploaded through the blob trigger", 20, 0, 1000);
        var queries = CliOptions.Int("--queries", "test-image queries per code length", 200, 1, 10000);
        var seed = CliOptions.Int("--seed", "which images are stored and queried", 1);
        var timeout = CliOptions.Int("--timeout", "seconds to wait for the index", 900, 10);
        return new Command("demo-run", "the demo against a running stack (./dpq demo runs it)")
            .With(model, url, count, uploads, queries, seed, timeout)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(model), r.GetRequiredValue(url), r.GetValue(count), r.GetValue(uploads), r.GetValue(queries), r.GetValue(seed), r.GetValue(timeout), ct));
    }

    private static async Task<int> RunAsync(string modelDir, string urlText, int count, int uploads, int queries, int seed, int timeoutSeconds, CancellationToken cancellationToken)
    {
        var url = urlText.TrimEnd('/');
        var timeout = TimeSpan.FromSeconds(timeoutSeconds);

        using var services = await Storage.FromEnvironmentAsync(cancellationToken);
        var storage = services.GetRequiredService<StorageClients>();
        var version = await PublishCommand.PublishAndActivateAsync(services, modelDir, cancellationToken);
        Console.WriteLine($"model {version} published and active");

        using var http = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromSeconds(60) };
        var baseline = await QueryClient.WaitForModelAsync(http, version, cancellationToken);

        var train = FashionMnist.Load(DatasetSplit.Train);
        var picked = Enumerable.Range(0, train.Count).ToArray();
        new Random(seed).Shuffle(picked);
        var clock = Stopwatch.StartNew();
        // A few single uploads go through the blob trigger, the way users add images one at a time...
        IReadOnlyList<UploadedBlob> single = [];
        if (uploads > 0)
        {
            var upload = new ProgressBar("uploading", uploads);
            single = await BulkUploader.UploadAsync(storage.Container(storage.Names.ImagesContainer), train, picked[count..(count + uploads)],
                BlobName, 4, Track(upload), cancellationToken: cancellationToken);
            upload.Report(uploads);
        }
        // ...and the bulk of them through a bulk import, which enqueues its own encode requests.
        var import = new ProgressBar("importing", count);
        var imported = await BulkImporter.ImportAsync(storage, train, picked[..count], BlobName, 16, Track(import), TimeProvider.System,
            cancellationToken: cancellationToken);
        import.Report(count);
        var uploadSeconds = clock.Elapsed.TotalSeconds;
        var added = single.Count + imported.Count;

        // Every image this demo stored must be findable, new or already there from an earlier run.
        var expected = Math.Max(baseline + added, count + uploads);
        var indexing = new ProgressBar("indexing ", added);
        long indexed;
        while (true)
        {
            indexed = (await QueryClient.IndexStatusAsync(http, cancellationToken)).Items;
            indexing.Report((int)Math.Min(indexed - baseline, added));
            if (indexed >= expected) break;
            if (clock.Elapsed > timeout)
            {
                Console.Error.WriteLine($"\ndpq demo: the index holds {indexed} images after {timeout.TotalSeconds:F0} s, expected at least {expected} "
                    + $"({added} new); see .build/run/*.log and the failures table");
                return 1;
            }
            await Task.Delay(250, cancellationToken);
        }
        var ingestSeconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"indexed {added} new images ({single.Count} uploads through the blob trigger, {imported.Count} imported) in {ingestSeconds:F1} s "
            + $"from the first upload ({added / ingestSeconds:F0} images/s end to end; storing them alone {uploadSeconds:F1} s); index holds {indexed}");

        await RunQueriesAsync(http, queries, seed, cancellationToken);
        await RunCopyQueriesAsync(http, train, picked[..Math.Min(CopyQueries, count)], cancellationToken);
        Console.WriteLine($"try it: curl -s -X POST -H 'Content-Type: image/png' --data-binary @some.png '{url}/api/query?k=10&bits=16'");
        Console.WriteLine($"or in a browser: {url}/api/search (the search page; ./dpq demo --keep leaves the stack running for it)");
        return 0;
    }

    private static string BlobName(int index) => $"demo/fashion-mnist-train-{index:00000}.png";

    private const int CopyQueries = 50;

    /// <summary>Queries JPEG (quality 75) copies of stored images, the file a user might hold: each should come back first, as a near-duplicate.</summary>
    private static async Task RunCopyQueriesAsync(HttpClient http, ImageSet train, int[] stored, CancellationToken cancellationToken)
    {
        int first = 0, marked = 0;
        foreach (var i in stored)
        {
            var jpeg = CopyVariants.Make(CopyVariant.Jpeg75, train.Pixels.AsSpan(i * train.PixelsPerImage, train.PixelsPerImage), train.Width, train.Height);
            var answer = await QueryClient.QueryImageAsync(http, jpeg, 32, 10, cancellationToken, "image/jpeg");
            // Stored through the bulk import, so indexed under the imports container's prefix.
            var name = ImageLocation.ForImport(BlobName(i));
            if (answer.FirstBlobName == name) first++;
            if (answer.FirstBlobName == name && answer.FirstMatch == "near-duplicate") marked++;
        }
        Console.WriteLine($"\ncopies first: {first} of {stored.Length} JPEG (q75) copies of stored images came back first ({marked} marked near-duplicate)");
    }

    private static Progress<UploadProgress> Track(ProgressBar bar) =>
        new(p => bar.Report(p.Done, p.Skipped > 0 ? $"{p.Skipped} already there" : null));

    private static async Task RunQueriesAsync(HttpClient http, int queries, int seed, CancellationToken cancellationToken)
    {
        var test = FashionMnist.Load(DatasetSplit.Test);
        var picks = Enumerable.Range(0, test.Count).ToArray();
        new Random(seed + 1).Shuffle(picks);
        picks = picks[..queries];
        var pngs = QueryClient.TestPngs(test, picks);

        var bitsList = (await QueryClient.IndexStatusAsync(http, cancellationToken)).CodeLengths;
        Console.WriteLine($"\n{queries} test-image queries through POST /api/query, k=10 (precision@10: share of the 10 results in the query's class)");
        Console.WriteLine("  bits  precision@10  latency p50 ms  p99 ms  (server scan p50 ms)");
        foreach (var bits in bitsList)
        {
            var latencies = new List<double>();
            var scans = new List<double>();
            double precision = 0;
            for (var q = 0; q < picks.Length; q++)
            {
                var answer = await QueryClient.QueryImageAsync(http, pngs[q], bits, 10, cancellationToken);
                latencies.Add(answer.ClientMs);
                precision += answer.Labels.Count(l => SameClass(l, test, picks[q])) / 10.0;
                scans.Add(answer.ScanMs);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {bits,4}  {precision / picks.Length,12:F3}  {QueryClient.Percentile(latencies, 0.5),14:F2}  {QueryClient.Percentile(latencies, 0.99),6:F2}  ({QueryClient.Percentile(scans, 0.5):F3})"));
        }
    }

    /// <summary>Whether a result's class is test image <paramref name="index"/>'s: by name, or by its index's text for images stored before class names.</summary>
    private static bool SameClass(string? label, ImageSet test, int index) =>
        label == test.ClassNameOf(index) || label == test.Labels[index].ToString(CultureInfo.InvariantCulture);
}
