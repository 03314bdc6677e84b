using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Cli;

/// <summary>
/// dpq bench reconcile: one reconcile pass over N blobs that are all indexed (its steady state: segment files and
/// catalog rows, no code rows), on a fresh, prefixed set of storage resources that is deleted afterwards (codes and copy codes are random: the pass reads names only): the pass's seconds and blobs/s, the bytes it
/// allocated and the process's working set, and what it found (nothing missing, nothing gone).
/// </summary>
public static class ReconcileBenchCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static Command Create()
    {
        var blobs = CliOptions.Int("--blobs", "blobs stored and indexed before the pass", 20_000, 1, 2_000_000);
        var model = CliOptions.Text("--model", "the model folder published for the pass", "DIR", defaultValue: Path.Combine(".build", "models", "default"));
        var json = CliOptions.Text("--json", "where to write the numbers", "FILE");
        return new Command("reconcile", "one reconcile pass over N indexed blobs: seconds, blobs/s, memory")
            .With(blobs, model, json)
            .Runs((r, ct) => RunAsync(r.GetValue(blobs), r.GetRequiredValue(model), r.GetValue(json), ct));
    }

    private static async Task<int> RunAsync(int count, string modelDir, string? jsonPath, CancellationToken cancellationToken)
    {
        await Storage.UseLocalUnlessConfiguredAsync(cancellationToken);
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        var names = StorageNames.WithPrefix("bench" + Guid.NewGuid().ToString("N")[..8]);
        await using var services = new ServiceCollection()
            .AddSingleton(names)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddSingleton(new ModelCacheOptions { CacheDirectory = Directory.CreateTempSubdirectory("dpq-bench-models-").FullName })
            .AddDpqCore(configuration).BuildServiceProvider();
        var storage = services.GetRequiredService<StorageClients>();
        await storage.EnsureCreatedAsync(cancellationToken);
        try
        {
            var version = await services.GetRequiredService<ModelRegistry>().PublishAsync(modelDir, cancellationToken);
            await services.GetRequiredService<VersionSwitch>().ActivatePublishedAsync(version, cancellationToken);
            var model = await services.GetRequiredService<ActiveModelCache>().GetAsync(cancellationToken)
                ?? throw new UsageException($"the model in {modelDir} could not be loaded");
            var format = new CodeFormat(model.Codewords, model.Levels);
            var index = await services.GetRequiredService<IndexStore>().OpenOrCreateAsync(version, IndexKeys.DefaultShardCount, format, cancellationToken);

            // The steady state: every blob stored and indexed (the codes are random; the pass reads names only). The
            // segment files and their catalog rows are written as the worker writes them; the codes table is left
            // empty, since the pass never reads it and a million rows would overload the emulator.
            var random = new Random(1);
            var indexing = new ProgressBar("indexing", count);
            for (var from = 0; from < count; from += 10_000)
            {
                var images = Enumerable.Range(from, Math.Min(10_000, count - from)).Select(i => Name(i)).Select(name => new IndexedImage(
                    ImageId.FromBlobName(name), name, null, [.. Enumerable.Range(0, model.Levels).Select(_ => (byte)random.Next(model.Codewords))],
                    null, model.Copies is null ? null : RandomCopyCode(random))).ToList();
                var delta = IndexSegments.FromImages(format, version, images, []);
                var key = SegmentCatalog.NewDeltaKey(TimeProvider.System);
                await index.Files.UploadAsync(SegmentEntry.BlobNameFor(version, key), delta, cancellationToken);
                await index.Catalog.AddDeltaAsync(key, index.ShardCount, delta.Count, cancellationToken: cancellationToken);
                indexing.Report(from + images.Count);
            }
            var container = storage.Container(names.ImagesContainer);
            var uploads = new ProgressBar("uploading", count);
            var uploaded = 0;
            // Overwrite: a try whose answer was lost (a timeout on a busy machine) is repeated by the SDK, and must not fail.
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (i, ct) =>
            {
                await container.GetBlobClient(Name(i)).UploadAsync(BinaryData.FromBytes([1]), overwrite: true, ct);
                uploads.Report(Interlocked.Increment(ref uploaded));
            });

            // Past the settle time, as a timer's pass sees them.
            var reconciler = new IndexReconciler(storage, services.GetRequiredService<IndexStore>(), services.GetRequiredService<FailureLog>(),
                services.GetRequiredService<ActiveModelCache>(), services.GetRequiredService<UploadIntake>(), TimeProvider.System,
                NullLogger<IndexReconciler>.Instance, settleTime: TimeSpan.Zero);
            GC.Collect();
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            var pass = await reconciler.RunAsync(cancellationToken);
            var seconds = clock.Elapsed.TotalSeconds;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            var workingSet = Environment.WorkingSet;
            var machine = BenchCommand.Machine();
            Console.WriteLine($"reconcile pass: {pass.Blobs:N0} blobs in {seconds:F1} s ({pass.Blobs / seconds:N0} blobs/s); missing {pass.Missing}, gone {pass.Gone}; "
                + $"allocated {allocated / 1e6:F0} MB, working set {workingSet / 1e6:F0} MB; {machine.Cpu}, {machine.Cores} cores");
            if (jsonPath is not null)
            {
                await using var file = File.Create(jsonPath);
                await JsonSerializer.SerializeAsync(file, new { machine, blobs = pass.Blobs, seconds, blobsPerSecond = pass.Blobs / seconds, pass.Missing, pass.Gone,
                    allocatedMB = allocated / 1e6, workingSetMB = workingSet / 1e6 }, Json, cancellationToken);
            }
            return pass.Missing == 0 && pass.Gone == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var c in names.Containers) await storage.Container(c).DeleteIfExistsAsync(cancellationToken: CancellationToken.None);
            foreach (var q in names.Queues) await storage.Queue(q).DeleteIfExistsAsync(CancellationToken.None);
            foreach (var t in names.Tables) await storage.Table(t).DeleteAsync(CancellationToken.None);
        }
    }

    private static string Name(int i) => $"bench/{i:0000000}.png";

    private static byte[] RandomCopyCode(Random random)
    {
        var code = new byte[Copies.CopyCodec.CodeBytes];
        do random.NextBytes(code); while (Copies.CopyCodec.IsMissing(code));
        return code;
    }
}
