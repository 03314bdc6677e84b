using System.CommandLine;
using Dpq.Catalog;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Cli;

/// <summary>
/// dpq catalog sync [--version V]: fills the optional search catalog (DpqSearch__*) from the index in storage
/// (DpqStorage, else the local Azurite): for a catalog turned on after images were indexed, or one behind.
/// </summary>
public static class CatalogCommand
{
    public static Command Create()
    {
        var version = CliOptions.Text("--version", "the model version to mirror (default: the active one)", "VERSION");
        var sync = new Command("sync", "mirror every indexed image of a version into the search catalog and delete documents of images no longer indexed (safe to repeat)")
            .With(version)
            .Runs((r, ct) => SyncAsync(r.GetValue(version), ct));
        return new Command("catalog", "the optional Azure AI Search catalog") { sync };
    }

    private static async Task<int> SyncAsync(string? version, CancellationToken cancellationToken)
    {
        using var services = await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
        var progress = new Progress<int>(n => Console.Error.Write($"\rdpq catalog sync: {n:N0} images mirrored"));
        CatalogSyncResult result;
        try
        {
            result = await services.GetRequiredService<CatalogSync>().SyncAsync(version, progress, cancellationToken);
        }
        catch (Exception e) when (e is CatalogUnavailableException or InvalidOperationException)
        {
            throw new UsageException(e.Message);
        }
        Console.Error.WriteLine();
        Console.WriteLine($"dpq catalog sync: {result.Mirrored} images of {result.ModelVersion} mirrored" +
            (result.WithoutUploadTime > 0 ? $" ({result.WithoutUploadTime} whose blob is gone: without an upload time)" : "") +
            $", {result.Pruned} documents of images no longer indexed deleted");
        return 0;
    }
}
