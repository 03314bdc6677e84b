using Dpq.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

/// <summary>The core services over one storage account, wired by AddDpqCore as every host wires them; instances registered by <paramref name="configure"/> first win.</summary>
public static class CoreServices
{
    public static ServiceProvider Create(StorageClients storage, Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton(storage);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        configure?.Invoke(services);
        return services.AddDpqCore(new ConfigurationBuilder().Build()).BuildServiceProvider();
    }
}
