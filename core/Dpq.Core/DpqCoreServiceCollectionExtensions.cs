using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.Query;
using Dpq.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Dpq;

/// <summary>The one composition root that every host (Functions, the local host, the worker) calls.</summary>
public static class DpqCoreServiceCollectionExtensions
{
    public static IServiceCollection AddDpqCore(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(configuration); // hosts register their own; options bind from it
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics(); // IMeterFactory, which every host has too; DpqMetrics makes its meter from it
        services.TryAddSingleton<Telemetry.DpqMetrics>();
        services.TryAddSingleton<Diagnostics.HealthCheck>();
        services.TryAddSingleton<Diagnostics.WorkerHeartbeat>();
        services.TryAddSingleton(_ => StorageConnection.FromConfiguration(configuration));
        services.TryAddSingleton(_ => StorageNames.FromConfiguration(configuration));
        services.TryAddSingleton(sp => new StorageClients(sp.GetRequiredService<StorageConnection>(), sp.GetRequiredService<StorageNames>()));
        // Storage, one object per job: every service gets these instead of building clients of its own.
        services.TryAddSingleton<IndexStore>();
        services.TryAddSingleton(sp => Storage(sp, s => new FailureLog(s.Table(s.Names.FailuresTable))));
        services.TryAddSingleton(sp => Storage(sp, s => new ModelRegistry(s.Container(s.Names.ModelsContainer))));
        services.TryAddSingleton(sp => Storage(sp, s => new VersionRecords(s.Container(s.Names.ModelsContainer), sp.GetRequiredService<TimeProvider>())));

        AddOptions<EncodeWorkerOptions>(services, EncodeWorkerOptions.Section);
        AddOptions<QueryOptions>(services, QueryOptions.Section);
        AddOptions<ModelCacheOptions>(services, ModelCacheOptions.Section);
        AddOptions<Onnx.InferenceOptions>(services, Onnx.InferenceOptions.Section);
        AddOptions<CompactionOptions>(services, CompactionOptions.Section);
        AddOptions<LifecycleOptions>(services, LifecycleOptions.Section);
        AddOptions<Catalog.SearchCatalogOptions>(services, Catalog.SearchCatalogOptions.Section);
        services.TryAddSingleton<Catalog.ISearchCatalog>(sp => sp.GetRequiredService<Catalog.SearchCatalogOptions>().IsEnabled
            ? ActivatorUtilities.CreateInstance<Catalog.AzureSearchCatalog>(sp)
            : new Catalog.DisabledSearchCatalog());
        services.TryAddSingleton<Catalog.CatalogSync>();
        services.TryAddSingleton(UploadPolicy.Default);

        services.TryAddSingleton<UploadIntake>();
        services.TryAddSingleton<IntakePoison>();
        services.TryAddSingleton<BlobEventRelay>();
        services.TryAddSingleton<IndexReconciler>();
        services.TryAddSingleton<RetrainScheduler>();
        services.TryAddSingleton<ActiveModelCache>();
        services.TryAddSingleton<WritableModels>();
        services.TryAddSingleton<IEncoderProvider>(sp => sp.GetRequiredService<WritableModels>());
        // The lifecycle: RetrainJob also needs an IModelTrainer, which only the worker registers (Dpq.Training).
        services.TryAddSingleton<Backfill>();
        services.TryAddSingleton<VersionSwitch>();
        services.TryAddSingleton<VersionRetention>();
        services.TryAddSingleton<RetrainJob>();
        services.TryAddSingleton<VersionOverview>();
        services.TryAddSingleton<Imaging.IImageDecoder>(Imaging.SkiaImageDecoder.Instance);
        services.TryAddSingleton<EncodePoison>();
        services.TryAddSingleton<NewerContentCheck>();
        services.TryAddSingleton<EncodeBatchProcessor>();
        services.TryAddSingleton<EncodeQueueDrainer>();
        services.TryAddSingleton<IndexWriter>();
        services.TryAddSingleton<SegmentSwap>();
        services.TryAddSingleton<DeltaCompactor>();
        services.TryAddSingleton<IndexRepair>();
        services.TryAddSingleton<OrphanSweeper>();
        services.TryAddSingleton<IndexMaintenance>();
        services.TryAddSingleton<IndexCache>();
        services.TryAddSingleton<QueryService>();
        services.TryAddSingleton<QueryHttpHandler>();
        services.TryAddSingleton<QueryWarmUp>();
        services.TryAddSingleton<Web.SearchPage>();
        services.TryAddSingleton<Web.ThumbnailService>();
        services.TryAddSingleton<Web.ApiDocument>();
        return services;
    }

    /// <summary>What a host that answers queries adds: a new model version is served only once its index is loaded.</summary>
    public static IServiceCollection AddDpqQueryHost(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IModelPreloader, IndexPreloader>());
        return services;
    }

    private static T Storage<T>(IServiceProvider services, Func<StorageClients, T> create) => create(services.GetRequiredService<StorageClients>());

    private static void AddOptions<T>(IServiceCollection services, string section) where T : class
    {
        services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<T>>().Value);
    }
}
