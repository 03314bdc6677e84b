using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Dpq.Cli.Faults;
using Dpq.Data;

namespace Dpq.Cli;

/// <summary>
/// dpq bench faults: the fault suite. Each scenario stores N Fashion-MNIST test images through intake and the
/// encode worker while something goes wrong (storage faults on the worker's requests, the worker killed, Azurite
/// restarted, two workers racing on overwrites), then counts what the index holds: lost, duplicated, stale, and
/// the time to recover. Everything runs against an Azurite of the bench's own (its own ports and data folder), so
/// no other Azurite on the machine is touched; each scenario has its own containers, queues and tables there.
/// </summary>
public static class FaultBenchCommand
{
    private static readonly string[] AllScenarios = [SdkFaultScenario.Name, WorkerKillScenario.Name, AzuriteRestartScenario.Name, OverwriteRaceScenario.Name];

    public static Command Create()
    {
        var images = CliOptions.Int("--images", "images per scenario", 300, 10, 5000);
        var json = CliOptions.Text("--json", "where to write the figures", "FILE");
        var only = new Option<string[]>("--scenario") { Description = $"run only these (repeatable): {string.Join(", ", AllScenarios)}", HelpName = "NAME", AllowMultipleArgumentsPerToken = true };
        only.AcceptOnlyFromAmong(AllScenarios);
        var model = CliOptions.Text("--model", "the model folder (default: the demo's, .build/models/default)", "DIR");
        var ports = CliOptions.Int("--ports", "the bench's Azurite: blob port (queue and table on the next two)", 20000, 1024, 65000);
        var drop = CliOptions.Number("--drop-rate", "sdk-faults: share of tries whose connection is reset (half before sending, half after the answer)", 0.05);
        var errors = CliOptions.Number("--error-rate", "sdk-faults: share of tries answered 503", 0.05);
        var delay = CliOptions.Number("--delay-rate", "sdk-faults: share of tries delayed", 0.1);
        var maxDelay = CliOptions.Int("--max-delay-ms", "sdk-faults: longest delay", 1000, 1, 60_000);
        var uploadSeconds = CliOptions.Int("--upload-seconds", "the uploads of a scenario are spread over this long", 10, 1, 600);
        var faultSeconds = CliOptions.Int("--fault-seconds", "sdk-faults: how long the faults last, from the first upload", 15, 1, 600);
        var outage = CliOptions.Int("--outage-seconds", "azurite-restart: how long Azurite stays down", 15, 1, 300);
        var kills = CliOptions.Int("--kills", "worker-kill: how many times the worker is killed", 2, 1, 20);
        var overwrites = CliOptions.Int("--overwrites", "overwrite-race: writes per name (names: images / writes)", 4, 2, 50);
        var timeout = CliOptions.Int("--timeout", "seconds to wait, after a fault, for every image", 180, 10, 3600);
        var seed = CliOptions.Int("--seed", "fault pattern and image order", 1);
        return new Command("faults", "the fault suite: storage faults, a killed worker, Azurite restarted, racing overwrites; lost, duplicated, stale, time to recover")
            .With(images, json, only, model, ports, drop, errors, delay, maxDelay, uploadSeconds, faultSeconds, outage, kills, overwrites, timeout, seed)
            .Runs((r, ct) =>
            {
                var root = Scripts.RepoRoot;
                var settings = new FaultBenchSettings(root, Path.Combine(root, ".build", "bench-faults"),
                    Path.GetFullPath(r.GetValue(model) ?? Path.Combine(root, ".build", "models", "default")), r.GetValue(images), r.GetValue(seed),
                    new FaultRates(r.GetValue(drop), r.GetValue(errors), r.GetValue(delay), TimeSpan.FromMilliseconds(r.GetValue(maxDelay))),
                    TimeSpan.FromSeconds(r.GetValue(uploadSeconds)), TimeSpan.FromSeconds(r.GetValue(faultSeconds)), TimeSpan.FromSeconds(r.GetValue(outage)),
                    r.GetValue(kills), r.GetValue(overwrites), TimeSpan.FromSeconds(r.GetValue(timeout)));
                var chosen = r.GetValue(only) is { Length: > 0 } o ? AllScenarios.Where(o.Contains).ToArray() : AllScenarios;
                return RunAsync(settings, chosen, r.GetValue(ports), r.GetValue(json), ct);
            });
    }

    private static async Task<int> RunAsync(FaultBenchSettings settings, IReadOnlyList<string> scenarios, int blobPort, string? jsonPath, CancellationToken cancellationToken)
    {
        settings.Rates.Check();
        if (!File.Exists(Path.Combine(settings.ModelDirectory, "model.json")))
            throw new UsageException($"no model in {settings.ModelDirectory}: run ./dpq demo (or ./dpq train --out DIR and pass --model DIR)");
        if (!File.Exists(WorkerProcess.BinaryPath(settings.RepoRoot)))
            throw new UsageException($"{WorkerProcess.BinaryPath(settings.RepoRoot)} is missing: build with dotnet build -c Release");
        // A fresh start every run: the bench's Azurite data, logs and model caches.
        if (Directory.Exists(settings.WorkDirectory)) Directory.Delete(settings.WorkDirectory, recursive: true);
        Directory.CreateDirectory(settings.WorkDirectory);
        var test = FashionMnist.Load(DatasetSplit.Test);
        var started = DateTimeOffset.UtcNow;
        var results = new List<ScenarioResult>();
        await using (var azurite = new BenchAzurite(settings.RepoRoot, Path.Combine(settings.WorkDirectory, "azurite"), Path.Combine(settings.WorkDirectory, "azurite.log"), blobPort))
        {
            await azurite.StartAsync(cancellationToken);
            Console.WriteLine($"dpq bench faults: {settings.Images} images per scenario; the bench's own Azurite on 127.0.0.1:{blobPort}-{blobPort + 2}, data and logs in .build/bench-faults");
            foreach (var scenario in scenarios)
            {
                await using var context = await ScenarioContext.CreateAsync(scenario, settings, azurite, test, cancellationToken);
                var result = scenario switch
                {
                    SdkFaultScenario.Name => await SdkFaultScenario.RunAsync(context, cancellationToken),
                    WorkerKillScenario.Name => await WorkerKillScenario.RunAsync(context, cancellationToken),
                    AzuriteRestartScenario.Name => await AzuriteRestartScenario.RunAsync(context, cancellationToken),
                    _ => await OverwriteRaceScenario.RunAsync(context, cancellationToken),
                };
                results.Add(result);
                PrintScenario(result);
            }
        }
        PrintTable(results);
        var machine = BenchCommand.Machine();
        Console.WriteLine($"machine: {machine.Cpu}, {machine.Cores} cores, AVX-512 {(machine.Vector512 ? "yes" : "no")}");
        if (jsonPath is not null)
        {
            var numbers = new
            {
                date = started.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
                machine,
                cpuId = BenchMachine.CpuId(),
                settings = Describe(settings),
                scenarios = results,
                held = results.All(r => r.Held),
            };
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(numbers, Json), cancellationToken);
        }
        return results.All(r => r.Held) ? 0 : 1;
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static object Describe(FaultBenchSettings s) => new
    {
        s.Images,
        s.Seed,
        rates = new { drop = s.Rates.Drop, serverError = s.Rates.ServerError, delay = s.Rates.Delay, maxDelayMs = s.Rates.MaxDelay.TotalMilliseconds },
        uploadSeconds = s.UploadTime.TotalSeconds,
        faultSeconds = s.FaultTime.TotalSeconds,
        outageSeconds = s.Outage.TotalSeconds,
        s.Kills,
        s.Overwrites,
        timeoutSeconds = s.Timeout.TotalSeconds,
    };

    private static void PrintScenario(ScenarioResult r)
    {
        foreach (var e in r.Events) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {e.At,7:F2} s  {e.What}"));
        var acted = string.Join(", ", r.DefencesActed.Where(d => d.Value > 0).Select(d => $"{d.Key} {d.Value}"));
        Console.WriteLine($"  defences acted: {(acted.Length == 0 ? "none" : acted)}");
        if (r.Faults is { } f)
            Console.WriteLine($"  faults injected: {f.Tries} tries seen, {f.DroppedBeforeSend} reset before sending, {f.DroppedAfterAnswer} after the answer, {f.ServerErrors} answered 503, {f.Delayed} delayed");
        foreach (var (what, c) in new[] { ("at the end", r.AtEnd), ("after compaction", r.AfterCompaction) })
        {
            if (c.MissingNames.Count > 0) Console.WriteLine($"  lost {what}: {string.Join(", ", c.MissingNames)}");
            if (c.DuplicatedNames.Count > 0) Console.WriteLine($"  duplicated {what}: {string.Join(", ", c.DuplicatedNames)}");
            if (c.StaleNames.Count > 0) Console.WriteLine($"  stale {what}: {string.Join(", ", c.StaleNames)}");
        }
    }

    private static void PrintTable(IReadOnlyList<ScenarioResult> results)
    {
        Console.WriteLine();
        Console.WriteLine($"{"scenario",-16} {"images",6} {"uploads",7} {"indexed",7} {"lost",5} {"dup",4} {"stale",5} {"at fault end",12} {"recover s",9} {"all s",7}");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Scenario,-16} {r.Images,6} {r.Uploads,7} {r.AfterCompaction.Indexed,7} {r.Lost,5} {r.Duplicated,4} {r.Stale,5} {r.AtFaultEnd.Indexed,12} {Seconds(r.RecoverSeconds),9} {Seconds(r.AllIndexedSeconds),7}"));
    }

    private static string Seconds(double? s) => s is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "never";
}
