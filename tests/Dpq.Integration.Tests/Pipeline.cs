using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Query;
using Dpq.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

/// <summary>The core services of the pipeline over one fresh set of storage resources, wired as AddDpqCore wires them.</summary>
public sealed class Pipeline : IDisposable
{
    private Pipeline(StorageClients storage, string modelCache)
    {
        Storage = storage;
        ModelCacheDirectory = modelCache;
        var time = TimeProvider.System;
        Options = new EncodeWorkerOptions { BatchSize = 64, MaxWait = TimeSpan.FromMilliseconds(200), MaxDequeueCount = 3, ShardCount = 4 };
        QueryOptions = new QueryOptions { IndexRefreshInterval = TimeSpan.Zero, IndexRefreshInBackground = false, ScanThreads = 1 };
        Models = new ActiveModelCache(storage, new ModelCacheOptions { CacheDirectory = modelCache, RefreshInterval = TimeSpan.Zero, RefreshInBackground = false }, new Onnx.InferenceOptions(), time, NullLogger<ActiveModelCache>.Instance);
        Intake = new UploadIntake(storage, UploadPolicy.Default, time, NullLogger<UploadIntake>.Instance);
        Drainer = new EncodeQueueDrainer(storage, Models, new EncodeBatchProcessor(storage, Options, time, NullLogger<EncodeBatchProcessor>.Instance),
            Options, time, NullLogger<EncodeQueueDrainer>.Instance);
        Index = new IndexCache(storage, QueryOptions, time, NullLogger<IndexCache>.Instance);
        Queries = new QueryService(storage, Models, Index, QueryOptions);
        Http = new QueryHttpHandler(Queries, Models, Index, QueryOptions, NullLogger<QueryHttpHandler>.Instance);
        Registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
    }

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

    public static async Task<Pipeline> CreateAsync(bool withModel, IReadOnlyList<Azure.Core.Pipeline.HttpPipelinePolicy>? policies = null)
    {
        var pipeline = new Pipeline(await Azurite.FreshAsync(policies), TestScratch.NewDirectory("model-cache"));
        if (withModel)
        {
            var version = await pipeline.Registry.PublishAsync(TinyModel.Directory);
            Assert.True(await pipeline.Registry.ActivateAsync(version, await pipeline.Registry.GetActiveAsync()));
        }
        return pipeline;
    }

    /// <summary>Every row of the codes table.</summary>
    public async Task<IReadOnlyList<Azure.Data.Tables.TableEntity>> CodeRowsAsync() =>
        await Storage.Table(Storage.Names.CodesTable).QueryAsync<Azure.Data.Tables.TableEntity>().ToListAsync();

    /// <summary>Drains until the queue is empty; returns the summed results.</summary>
    public async Task<DrainResult> DrainAllAsync()
    {
        var total = DrainResult.Empty;
        for (var pass = 0; pass < 100; pass++)
        {
            var r = await Drainer.DrainOnceAsync();
            if (r.Received == 0) return total;
            total = new DrainResult(total.Received + r.Received, total.Indexed + r.Indexed, total.Failed + r.Failed, total.Retried + r.Retried, r.NoModel);
        }
        throw new TimeoutException("the queue did not empty in 100 passes");
    }

    public void Dispose() => Models.Dispose();
}
