using Microsoft.Extensions.Configuration;
using Dpq.Models;
using Dpq.Storage;

namespace Dpq.Cli;

/// <summary>
/// dpq publish --model DIR: uploads a trained model folder to the models container and makes it
/// the active version (a conditional write of the pointer). Storage comes from DpqStorage.
/// </summary>
public static class PublishCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var o = new Options(args);
        var dir = o.Required("model");
        o.EnsureAllRead();
        var storage = Storage.FromEnvironment();
        await storage.EnsureCreatedAsync(cancellationToken);
        var version = await PublishAndActivateAsync(storage, dir, cancellationToken);
        Console.WriteLine($"dpq publish: model {version} is active");
        return 0;
    }

    public static async Task<string> PublishAndActivateAsync(StorageClients storage, string modelDirectory, CancellationToken cancellationToken)
    {
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        string version;
        try
        {
            version = await registry.PublishAsync(modelDirectory, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            throw new UsageException($"refused: {e.Message}");
        }
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var active = await registry.GetActiveAsync(cancellationToken);
            if (active?.Version == version || await registry.ActivateAsync(version, active, cancellationToken)) return version;
        }
        throw new InvalidOperationException($"could not activate {version}: the active pointer kept changing under us");
    }
}

/// <summary>The storage account named by the DpqStorage setting (environment), as every host reads it.</summary>
internal static class Storage
{
    public static StorageClients FromEnvironment()
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        try
        {
            return new StorageClients(StorageConnection.FromConfiguration(configuration), StorageNames.FromConfiguration(configuration));
        }
        catch (InvalidOperationException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
