using Microsoft.Extensions.DependencyInjection;
using Dpq.Indexing;
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
        using var services = await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
        var version = await PublishAndActivateAsync(services, dir, cancellationToken);
        Console.WriteLine($"dpq publish: model {version} is active");
        return 0;
    }

    public static async Task<string> PublishAndActivateAsync(IServiceProvider services, string modelDirectory, CancellationToken cancellationToken)
    {
        string version;
        try
        {
            version = await services.GetRequiredService<ModelRegistry>().PublishAsync(modelDirectory, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            throw new UsageException($"refused: {e.Message}");
        }
        await services.GetRequiredService<VersionSwitch>().ActivatePublishedAsync(version, cancellationToken);
        return version;
    }
}
