using Dpq.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Cli;

/// <summary>
/// The core services over the storage account named by the DpqStorage setting (environment), wired by
/// <see cref="DpqCoreServiceCollectionExtensions.AddDpqCore"/> as every host wires them, with every
/// container, queue and table created.
/// </summary>
internal static class Storage
{
    /// <summary>Whether DpqStorage names an account (Azure, or an Azurite the caller runs); else the commands use the local stack.</summary>
    public static bool IsConfigured => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("DpqStorage"))
        || !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("DpqStorage__blobServiceUri"));

    /// <summary>DpqStorage when set; otherwise the local Azurite, started when it is not running.</summary>
    public static async Task<ServiceProvider> FromEnvironmentOrLocalAsync(CancellationToken cancellationToken)
    {
        await UseLocalUnlessConfiguredAsync(cancellationToken);
        return await FromEnvironmentAsync(cancellationToken);
    }

    /// <summary>Unless DpqStorage names an account, starts the local Azurite (when it is not running) and points DpqStorage at it.</summary>
    public static async Task UseLocalUnlessConfiguredAsync(CancellationToken cancellationToken)
    {
        if (IsConfigured) return;
        if (await Scripts.RunAsync("azurite.sh", ["start"], cancellationToken) != 0) throw new UsageException("the local Azurite did not start (scripts/azurite.sh start)");
        Environment.SetEnvironmentVariable("DpqStorage", await Scripts.OutputAsync("azurite.sh", ["connection-string"], cancellationToken));
    }

    public static async Task<ServiceProvider> FromEnvironmentAsync(CancellationToken cancellationToken)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        var provider = services.AddDpqCore(configuration).BuildServiceProvider();
        StorageClients storage;
        try
        {
            storage = provider.GetRequiredService<StorageClients>();
        }
        catch (InvalidOperationException e)
        {
            await provider.DisposeAsync();
            throw new UsageException(e.Message);
        }
        await storage.EnsureCreatedAsync(cancellationToken);
        return provider;
    }
}
