using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Query;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

/// <summary>The core services of the pipeline over one fresh set of storage resources, wired as AddDpqCore wires them.</summary>
public sealed class Pipeline : IDisposable
{
    private Pipeline(StorageClients storage, string modelCache, Action<IServiceCollection>? configure)
    {
        Storage = storage;
        ModelCacheDirectory = modelCache;
        Options = new EncodeWorkerOptions { BatchSize = 64, MaxWait = TimeSpan.FromMilliseconds(200), MaxDequeueCount = 3, ShardCount = 4 };
        QueryOptions = new QueryOptions { IndexRefreshInterval = TimeSpan.Zero, IndexRefreshInBackground = false, ScanThreads = 1 };
        Services = CoreServices.Create(storage, services => services
            .AddSingleton(Options)
            .AddSingleton(QueryOptions)
            .AddSingleton(new ModelCacheOptions { CacheDirectory = modelCache, RefreshInterval = TimeSpan.Zero, RefreshInBackground = false })
            .AddDpqQueryHost()
            .With(configure));
        Models = Get<ActiveModelCache>();
        Intake = Get<UploadIntake>();
        Drainer = Get<EncodeQueueDrainer>();
        Index = Get<IndexCache>();
        Queries = Get<QueryService>();
        Http = Get<QueryHttpHandler>();
        Registry = Get<ModelRegistry>();
        Store = Get<IndexStore>();
        Failures = Get<FailureLog>();
    }

    public ServiceProvider Services { get; }
    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public StorageClients Storage { get; }
    public string ModelCacheDirectory { get; }
    public EncodeWorkerOptions Options { get; }
    public QueryOptions QueryOptions { get; }
    public ActiveModelCache Models { get; }
    public UploadIntake Intake { get; }
    public EncodeQueueDrainer Drainer { get; }
    public IndexCache Index { get; }
    public QueryService Queries { get; }
    public QueryHttpHandler Http { get; }
    public ModelRegistry Registry { get; }
    public IndexStore Store { get; }
    public FailureLog Failures { get; }

    /// <summary>A reconciler of this pipeline on <paramref name="clock"/>.</summary>
    public IndexReconciler Reconciler(TimeProvider clock, TimeSpan? settleTime = null) =>
        new(Storage, Store, Failures, Models, Intake, clock, NullLogger<IndexReconciler>.Instance, settleTime);

    /// <summary>The active model's index (its shard count as recorded); fails when nothing was written to it yet.</summary>
    public async Task<VersionIndex> ActiveIndexAsync() =>
        await Store.OpenAsync((await Registry.GetActiveAsync())!.Version) ?? throw new InvalidOperationException("nothing is indexed for the active model yet");

    /// <param name="configure">Registrations that win over AddDpqCore's (options, a trainer).</param>
    public static async Task<Pipeline> CreateAsync(bool withModel, IReadOnlyList<Azure.Core.Pipeline.HttpPipelinePolicy>? policies = null,
        Action<IServiceCollection>? configure = null)
    {
        var pipeline = new Pipeline(await Azurite.FreshAsync(policies), TestScratch.NewDirectory("model-cache"), configure);
        if (withModel)
        {
            var version = await pipeline.Registry.PublishAsync(TinyModel.Directory);
            await pipeline.Get<VersionSwitch>().ActivatePublishedAsync(version);
        }
        return pipeline;
    }

    /// <summary>Another process on the same storage (a second worker, or one started after a kill), with its own services.</summary>
    public Pipeline Twin(Action<IServiceCollection>? configure = null) => new(Storage, TestScratch.NewDirectory("model-cache"), configure);

    /// <summary>Another process on the same storage whose requests go through <paramref name="policies"/> (faults only it sees).</summary>
    public Pipeline Twin(IReadOnlyList<Azure.Core.Pipeline.HttpPipelinePolicy> policies, Action<IServiceCollection>? configure = null, StorageRetry? retry = null) =>
        new(new StorageClients(Azurite.Connection, Storage.Names, policies, retry), TestScratch.NewDirectory("model-cache"), configure);

    /// <summary>Every row of the codes table.</summary>
    public async Task<IReadOnlyList<Azure.Data.Tables.TableEntity>> CodeRowsAsync() =>
        await Storage.Table(Storage.Names.CodesTable).QueryAsync<Azure.Data.Tables.TableEntity>().ToListAsync();

    /// <summary>Uploads the test images at <paramref name="indices"/> and hands each to intake, as the blob trigger does.</summary>
    public async Task IngestAsync(IEnumerable<int> indices)
    {
        var images = Storage.Container(Storage.Names.ImagesContainer);
        foreach (var i in indices)
        {
            await Images.UploadAsync(images, TinyModel.TestImages, i);
            Xunit.Assert.Equal(IntakeOutcome.Enqueued, await Intake.HandleBlobAsync(images.GetBlobClient(Images.Name(i))));
        }
    }

    /// <summary>Drains (waiting for delayed messages to show) until <paramref name="done"/> holds; fails after <paramref name="timeout"/>.</summary>
    public async Task DrainUntilAsync(Func<Task<bool>> done, TimeSpan timeout, EncodeQueueDrainer? drainer = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await done())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"not done after {timeout}");
            if ((await (drainer ?? Drainer).DrainOnceAsync()).Received == 0) await Task.Delay(100);
        }
    }

    /// <summary>Drains until the queue is empty; returns the summed results.</summary>
    public async Task<DrainResult> DrainAllAsync()
    {
        var total = DrainResult.Empty;
        for (var pass = 0; pass < 100; pass++)
        {
            var r = await Drainer.DrainOnceAsync();
            if (r.Received == 0) return total;
            total = new DrainResult(total.Received + r.Received, total.Indexed + r.Indexed, total.Failed + r.Failed, total.Retried + r.Retried, r.NoModel, total.Removed + r.Removed);
        }
        throw new TimeoutException("the queue did not empty in 100 passes");
    }

    public void Dispose() => Services.Dispose();
}

internal static class ServiceCollectionTestExtensions
{
    public static IServiceCollection With(this IServiceCollection services, Action<IServiceCollection>? configure)
    {
        configure?.Invoke(services);
        return services;
    }
}
