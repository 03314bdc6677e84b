using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Storage;

namespace Dpq.Cli;

/// <summary>
/// dpq publish --model DIR: uploads a trained model folder to the models container and makes it
/// the active version (a conditional write of the pointer).
/// </summary>
public static class PublishCommand
{
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "the model folder", "DIR", required: true);
        return new Command("publish", "publish a trained model folder and make it the active version (storage: DpqStorage, else the local Azurite, started if needed)")
            .With(model)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(model), ct));
    }

    private static async Task<int> RunAsync(string dir, CancellationToken cancellationToken)
    {
        var storage = await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
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
    /// <summary>Whether DpqStorage names an account (Azure, or an Azurite the caller runs); else the commands use the local stack.</summary>
    public static bool IsConfigured => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("DpqStorage"))
        || !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("DpqStorage__blobServiceUri"));

    /// <summary>DpqStorage when set; otherwise the local Azurite, started when it is not running.</summary>
    public static async Task<StorageClients> FromEnvironmentOrLocalAsync(CancellationToken cancellationToken)
    {
        if (IsConfigured) return FromEnvironment();
        if (await Scripts.RunAsync("azurite.sh", ["start"], cancellationToken) != 0) throw new UsageException("the local Azurite did not start (scripts/azurite.sh start)");
        var connection = await Scripts.OutputAsync("azurite.sh", ["connection-string"], cancellationToken);
        Environment.SetEnvironmentVariable("DpqStorage", connection);
        return FromEnvironment();
    }

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
