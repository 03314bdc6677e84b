using System.Diagnostics;
using Dpq.Data;
using Dpq.Formats;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelFiles;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Cli.Faults;

/// <summary>What every scenario of one bench run shares.</summary>
public sealed record FaultBenchSettings(string RepoRoot, string WorkDirectory, string ModelDirectory, int Images, int Seed, FaultRates Rates,
    TimeSpan UploadTime, TimeSpan FaultTime, TimeSpan Outage, int Kills, int Overwrites, TimeSpan Timeout);

/// <summary>
/// One scenario's storage and helpers: its own set of containers, queues and tables on the bench's Azurite
/// (a name prefix), the model published and active there, the bench's own clients (uploads, intake, counting;
/// no faults), the scenario's clock and its log of events.
/// </summary>
public sealed class ScenarioContext : IAsyncDisposable
{
    /// <summary>The log line by which a worker says its model is loaded (it is then warm).</summary>
    public const string ReadyPhrase = "loaded on";

    /// <summary>The log line by which a worker says it finished a pass (it is then at work).</summary>
    public const string BatchPhrase = "Batch of ";

    private readonly List<ScenarioEvent> _events = [];

    private ScenarioContext(string scenario, FaultBenchSettings settings, BenchAzurite azurite, ImageSet test, StorageNames names, ServiceProvider services)
    {
        (Scenario, Settings, Azurite, Test, Names, Services) = (scenario, settings, azurite, test, names, services);
        Storage = services.GetRequiredService<StorageClients>();
        Uploader = new BenchUploader(Storage, services.GetRequiredService<UploadIntake>());
    }

    public string Scenario { get; }
    public FaultBenchSettings Settings { get; }
    public BenchAzurite Azurite { get; }
    public ImageSet Test { get; }
    public StorageNames Names { get; }
    public ServiceProvider Services { get; }
    public StorageClients Storage { get; }
    public BenchUploader Uploader { get; }
    public string ModelVersion { get; private set; } = "";
    public CodeFormat Format { get; private set; }
    /// <summary>The active model as the bench loaded it (to know the code of each content in the racing scenario).</summary>
    public LoadedModel Model { get; private set; } = null!;
    /// <summary>Started at the scenario's first upload.</summary>
    public Stopwatch Clock { get; } = new();
    public IReadOnlyList<ScenarioEvent> Events => _events;

    /// <summary>Encode settings of every worker: a pass of at most <paramref name="batchSize"/> requests; leases and retries short, so a run takes a minute or two.</summary>
    public static EncodeWorkerOptions WorkerOptions(int batchSize, TimeSpan maxWait) => new()
    {
        BatchSize = batchSize,
        MaxWait = maxWait,
        VisibilityTimeout = TimeSpan.FromSeconds(5),
        RetryDelay = TimeSpan.FromMilliseconds(200),
        MaxRetryDelay = TimeSpan.FromSeconds(2),
        IdleDelay = TimeSpan.FromMilliseconds(200),
    };

    public static async Task<ScenarioContext> CreateAsync(string scenario, FaultBenchSettings settings, BenchAzurite azurite, ImageSet test,
        CancellationToken cancellationToken)
    {
        var names = StorageNames.WithPrefix(new string([.. scenario.Where(char.IsAsciiLetterOrDigit)]).ToLowerInvariant());
        var services = BenchServices.Create(azurite.ConnectionString, names, Path.Combine(settings.WorkDirectory, "model-cache", scenario + "-bench"),
            WorkerOptions(64, TimeSpan.FromSeconds(1)));
        var context = new ScenarioContext(scenario, settings, azurite, test, names, services);
        await context.Storage.EnsureCreatedAsync(cancellationToken);
        var version = await services.GetRequiredService<ModelRegistry>().PublishAsync(settings.ModelDirectory, cancellationToken);
        await services.GetRequiredService<VersionSwitch>().ActivatePublishedAsync(version, cancellationToken);
        context.Model = await services.GetRequiredService<ActiveModelCache>().GetAsync(cancellationToken)
            ?? throw new InvalidOperationException($"model {version} was published but cannot be loaded");
        context.ModelVersion = version;
        context.Format = new CodeFormat(context.Model.Codewords, context.Model.Levels);
        return context;
    }

    public string LogPath(string name) => Path.Combine(Settings.WorkDirectory, "logs", $"{Scenario}-{name}.log");

    public string ModelCache(string name) => Path.Combine(Settings.WorkDirectory, "model-cache", $"{Scenario}-{name}");

    public IndexCensus NewCensus() => new(Storage, Services.GetRequiredService<IndexStore>(), ModelVersion, Format);

    public void Event(string what)
    {
        lock (_events) _events.Add(new ScenarioEvent(Math.Round(Clock.Elapsed.TotalSeconds, 2), what));
    }

    /// <summary>Test image <paramref name="index"/> as a PNG under <paramref name="name"/>, with its class.</summary>
    public BenchImage Image(string name, int index) => new(name, ImagePreprocessor.EncodePng(Test, index), Test.ClassNameOf(index));

    /// <summary>The first <paramref name="count"/> test images, each under its own name.</summary>
    public IReadOnlyList<BenchImage> Images(int count) => [.. Enumerable.Range(0, count).Select(i => Image($"bench/test-{i:00000}.png", i))];

    /// <summary>The environment of a worker process: the settings of <paramref name="options"/>, its own model cache, the local stack's model refresh.</summary>
    public IReadOnlyDictionary<string, string> WorkerSettings(EncodeWorkerOptions options, string worker) => new Dictionary<string, string>
    {
        ["Models__CacheDirectory"] = ModelCache(worker),
        ["Models__RefreshInterval"] = "00:00:02",
        ["Encode__BatchSize"] = $"{options.BatchSize}",
        ["Encode__MaxWait"] = options.MaxWait.ToString("c"),
        ["Encode__VisibilityTimeout"] = options.VisibilityTimeout.ToString("c"),
        ["Encode__RetryDelay"] = options.RetryDelay.ToString("c"),
        ["Encode__MaxRetryDelay"] = options.MaxRetryDelay.ToString("c"),
        ["Encode__IdleDelay"] = options.IdleDelay.ToString("c"),
    };

    /// <summary>Starts a real worker process on this scenario's storage and waits until its model is loaded.</summary>
    public async Task<WorkerProcess> StartWorkerAsync(string name, EncodeWorkerOptions options, CancellationToken cancellationToken)
    {
        var worker = WorkerProcess.Start(name, Settings.RepoRoot, Azurite.ConnectionString, Names, WorkerSettings(options, name), LogPath(name),
            [.. Defences.Phrases.Values, ReadyPhrase, BatchPhrase]);
        var clock = Stopwatch.StartNew();
        while (worker.Counted[ReadyPhrase] == 0)
        {
            if (worker.HasExited) throw new InvalidOperationException($"worker {name} exited during start (log: {LogPath(name)})");
            if (clock.Elapsed > TimeSpan.FromSeconds(60)) throw new TimeoutException($"worker {name} did not load its model within 60 s (log: {LogPath(name)})");
            await Task.Delay(50, cancellationToken);
        }
        return worker;
    }

    /// <summary>Starts a real worker process and returns at once (a worker started after a crash: its start-up counts towards recovery).</summary>
    public WorkerProcess LaunchWorker(string name, EncodeWorkerOptions options) =>
        WorkerProcess.Start(name, Settings.RepoRoot, Azurite.ConnectionString, Names, WorkerSettings(options, name), LogPath(name),
            [.. Defences.Phrases.Values, ReadyPhrase, BatchPhrase]);

    /// <summary>Merges every delta into sealed segments (nothing writes any more); returns the deltas merged.</summary>
    public async Task<int> CompactAllAsync(CancellationToken cancellationToken)
    {
        if (await Services.GetRequiredService<IndexStore>().OpenAsync(ModelVersion, cancellationToken) is not { } index) return 0;
        var compactor = Services.GetRequiredService<DeltaCompactor>();
        var merged = 0;
        CompactionResult result;
        do
        {
            result = await compactor.CompactOnceAsync(index, minDeltas: 1, settle: TimeSpan.Zero, cancellationToken: cancellationToken);
            merged += result.DeltasMerged;
        }
        while (result.DeltasMerged > 0);
        return merged;
    }

    public async Task<FailureSummary> FailuresAsync(IReadOnlySet<string> names, CancellationToken cancellationToken)
    {
        var records = (await Services.GetRequiredService<FailureLog>().ListAsync(cancellationToken)).Where(r => names.Contains(r.BlobName)).ToList();
        var poison = (await Storage.Queue(Names.EncodePoisonQueue).GetPropertiesAsync(cancellationToken)).Value.ApproximateMessagesCount;
        var left = (await Storage.Queue(Names.EncodeQueue).GetPropertiesAsync(cancellationToken)).Value.ApproximateMessagesCount;
        return new FailureSummary(records.Count(r => r.Stage == FailureStage.Intake), records.Count(r => r.Stage == FailureStage.Decode),
            records.Count(r => r.Stage == FailureStage.Poison), poison, left);
    }

    /// <summary>
    /// The end every scenario shares once its fault is over at <paramref name="faultEnd"/>: waits until every image
    /// is indexed (or the timeout), stops the workers (<paramref name="stopWorkers"/>), compacts, counts again.
    /// <paramref name="defences"/> reads the workers' log counts (after they stopped).
    /// </summary>
    public async Task<ScenarioResult> FinishAsync(string description, IndexMonitor monitor, IReadOnlySet<string> names, ContentCodes? codes, int uploads,
        double faultStart, double faultEnd, Census atFaultEnd, Func<Task> stopWorkers, Func<IReadOnlyDictionary<string, int>> defences,
        IReadOnlyDictionary<string, string> workerSettings, CancellationToken cancellationToken, FaultCounts? faults = null, Func<DrainTotals>? drains = null)
    {
        monitor.Phase = "waiting for every image";
        var complete = await monitor.WaitForAsync(c => c.Complete, Settings.Timeout, cancellationToken);
        var atEnd = complete?.Census ?? await monitor.TakeNowAsync(cancellationToken);
        Event(complete is null ? $"timeout: {atEnd.Indexed} of {atEnd.Uploaded} indexed" : "every image indexed");
        await stopWorkers();
        var acted = defences(); // read once the workers have stopped: all they logged
        var deltas = await CompactAllAsync(cancellationToken);
        var after = await monitor.TakeNowAsync(cancellationToken);
        return new ScenarioResult
        {
            Scenario = Scenario,
            Description = description,
            Images = names.Count,
            Uploads = uploads,
            FaultStartSeconds = Math.Round(faultStart, 2),
            FaultEndSeconds = Math.Round(faultEnd, 2),
            RecoverSeconds = complete is null ? null : Math.Round(Math.Max(0, complete.At - faultEnd), 2),
            AllIndexedSeconds = complete is null ? null : Math.Round(complete.At, 2),
            AtFaultEnd = atFaultEnd,
            AtEnd = atEnd,
            AfterCompaction = after,
            DeltasCompacted = deltas,
            Failures = await FailuresAsync(names, cancellationToken),
            DefencesActed = Defences.Phrases.ToDictionary(p => p.Key, p => acted.GetValueOrDefault(p.Value)),
            Events = Events,
            Faults = faults,
            Drains = drains?.Invoke(),
            UploadRetries = Uploader.Retries,
            WorkerSettings = workerSettings,
        };
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync(); // the model too: its cache owns it
    }
}
