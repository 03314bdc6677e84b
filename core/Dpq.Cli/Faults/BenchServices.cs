using Azure.Core.Pipeline;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Cli.Faults;

/// <summary>
/// The core services over one Azurite and one set of resource names, wired by AddDpqCore as every host wires
/// them: the bench's own clients (uploads, intake, counting: no faults), or an in-process encode worker's, whose
/// requests go through the given pipeline policies.
/// </summary>
public static class BenchServices
{
    public static ServiceProvider Create(string connectionString, StorageNames names, string modelCacheDirectory, EncodeWorkerOptions encode,
        IReadOnlyList<HttpPipelinePolicy>? policies = null, BenchLog? log = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(new StorageClients(StorageConnection.FromConnectionString(connectionString), names, policies));
        if (log is null) services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        else services.AddSingleton(log).AddSingleton(typeof(ILogger<>), typeof(BenchLogger<>));
        services.AddSingleton(encode);
        // The pointer is read every 2 s, as the local stack does (Models__RefreshInterval).
        services.AddSingleton(new ModelCacheOptions { CacheDirectory = modelCacheDirectory, RefreshInterval = TimeSpan.FromSeconds(2) });
        return services.AddDpqCore(new ConfigurationBuilder().Build()).BuildServiceProvider();
    }
}
