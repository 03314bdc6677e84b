using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Cli;

/// <summary>
/// The model lifecycle from the command line: dpq retrain (ask the retraining worker for a new version,
/// optionally waiting for its outcome), dpq versions (each version's state, metrics, images, bytes) and
/// dpq rollback (point back at an earlier version). Storage is DpqStorage when set, else the local stack.
/// </summary>
public static class VersionCommands
{
    public static Command Retrain()
    {
        var wait = CliOptions.Flag("--wait", "wait until the job is done and print its progress and outcome");
        var timeout = CliOptions.Int("--timeout", "seconds to wait with --wait", 7200, 10);
        return new Command("retrain", "train a new model version on the labelled images in storage, fill its index and switch to it if it is not worse")
            .With(wait, timeout)
            .Runs((r, ct) => RetrainAsync(r.GetValue(wait), TimeSpan.FromSeconds(r.GetValue(timeout)), ct));
    }

    public static Command Versions()
    {
        var json = CliOptions.Flag("--json", "print the list as JSON");
        return new Command("versions", "list the model versions: state, held-out mAP, images, bytes")
            .With(json)
            .Runs((r, ct) => VersionsAsync(r.GetValue(json), ct));
    }

    public static Command Rollback()
    {
        var version = new Argument<string?>("VERSION") { Description = "the version to activate (default: the one active before the current one)", Arity = ArgumentArity.ZeroOrOne };
        return new Command("rollback", "activate an earlier version again, in one conditional write")
            .With(version)
            .Runs((r, ct) => RollbackAsync(r.GetValue(version), ct));
    }

    private static async Task<ServiceProvider> ServicesAsync(bool needsWorkers, CancellationToken cancellationToken)
    {
        if (needsWorkers && !Storage.IsConfigured && await Scripts.RunAsync("stack.sh", ["start"], cancellationToken) != 0)
            throw new UsageException("the local stack did not start (see .build/run/*.log)");
        return await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
    }

    private static async Task<int> RetrainAsync(bool wait, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var services = await ServicesAsync(needsWorkers: true, cancellationToken);
        var requestId = await services.GetRequiredService<RetrainScheduler>().RequestNowAsync("cli", cancellationToken);
        Console.WriteLine($"dpq retrain: requested as {requestId}");
        if (!wait) return 0;
        var models = services.GetRequiredService<StorageClients>();
        var container = models.Container(models.Names.ModelsContainer);
        var deadline = DateTimeOffset.UtcNow + timeout;
        string? shown = null;
        while (DateTimeOffset.UtcNow < deadline)
        {
            if (await RetrainJob.ReadStateAsync(container, requestId, cancellationToken) is { } state)
            {
                var line = $"{state.Stage.ToString().ToLowerInvariant()}: {state.Progress}";
                if (line != shown) Console.WriteLine($"dpq retrain: {line}");
                shown = line;
                if (state.Stage == RetrainStage.Done)
                {
                    Console.WriteLine($"dpq retrain: {state.Outcome}");
                    return state.Outcome?.StartsWith("failed", StringComparison.Ordinal) == true ? 1 : 0;
                }
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
        throw new UsageException($"the job did not finish within {timeout.TotalSeconds:F0} s; ./dpq versions shows where it is");
    }

    private static async Task<int> VersionsAsync(bool json, CancellationToken cancellationToken)
    {
        using var services = await ServicesAsync(needsWorkers: false, cancellationToken);
        var list = await services.GetRequiredService<VersionOverview>().ListAsync(cancellationToken: cancellationToken);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(list, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            return 0;
        }
        if (list.Count == 0)
        {
            Console.WriteLine("no model is published yet: ./dpq demo trains and publishes one, ./dpq publish --model DIR publishes yours");
            return 0;
        }
        Console.WriteLine($"{"version",-34} {"state",-24} {"held-out mAP",-14} {"items",9} {"index",10} {"model",10}  created");
        foreach (var v in list)
        {
            var map = v.HeldOutMap.Count == 0 ? "-" : v.HeldOutMap.MaxBy(kv => kv.Key).Value.ToString("F4", CultureInfo.InvariantCulture) + $"@{v.HeldOutMap.Keys.Max()}";
            var state = v.Status.Length > 24 ? v.Status[..21] + "..." : v.Status;
            Console.WriteLine($"{v.Version,-34} {state,-24} {map,-14} {v.IndexedItems,9:N0} {Size(v.IndexBytes),10} {Size(v.ModelBytes),10}  {v.CreatedAt?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "-"}");
        }
        foreach (var v in list.Where(v => v.Status.Length > 24)) Console.WriteLine($"  {v.Version}: {v.Status}");
        return 0;
    }

    private static string Size(long bytes) => bytes switch
    {
        0 => "-",
        < 1 << 20 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes / 1048576.0:F1} MiB",
    };

    private static async Task<int> RollbackAsync(string? version, CancellationToken cancellationToken)
    {
        using var services = await ServicesAsync(needsWorkers: false, cancellationToken);
        try
        {
            var active = await services.GetRequiredService<VersionSwitch>().RollbackAsync(version, cancellationToken);
            Console.WriteLine($"dpq rollback: model {active} is active; the reconciler indexes for it what was uploaded while another version was active");
            return 0;
        }
        catch (InvalidOperationException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
