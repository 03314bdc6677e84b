using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Dpq.Data;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;
using Answer = Dpq.Cli.QueryClient.TimedAnswer;

namespace Dpq.Cli;

/// <summary>
/// dpq bench retrain: one retraining job on the running local stack (or DpqStorage and --url) while image
/// queries run back to back through HTTP: how long each stage took, the backfill's images/s, the time from
/// "covered" to the flip and from the flip to the first answer of the new version, and every answer's
/// status, version, result count and latency (failed and empty answers counted). Numbers go to --json.
/// </summary>
public static class RetrainBenchCommand
{

    public static Command Create()
    {
        var url = CliOptions.Text("--url", "the query function's base URL", "URL", defaultValue: "http://127.0.0.1:7071");
        var parallel = CliOptions.Int("--parallel", "queries in flight at once", 2, 1, 64);
        var json = CliOptions.Text("--json", "where to write the numbers", "FILE");
        var timeout = CliOptions.Int("--timeout", "seconds to wait for the job", 3600, 10);
        return new Command("retrain", "a retraining job with queries running throughout: stages, backfill images/s, the switch, failed and empty answers")
            .With(url, parallel, json, timeout)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(url).TrimEnd('/'), r.GetValue(parallel), r.GetValue(json), TimeSpan.FromSeconds(r.GetValue(timeout)), ct));
    }

    private static async Task<int> RunAsync(string url, int parallel, string? jsonPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!Storage.IsConfigured && await Scripts.RunAsync("stack.sh", ["start"], cancellationToken) != 0)
            throw new UsageException("the local stack did not start (see .build/run/*.log)");
        using var services = await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
        var storage = services.GetRequiredService<StorageClients>();
        var models = storage.Container(storage.Names.ModelsContainer);
        var before = (await services.GetRequiredService<ModelRegistry>().GetActiveAsync(cancellationToken))?.Version
            ?? throw new UsageException("no model is active: run ./dpq demo first");
        using var http = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromSeconds(30) };
        var pngs = QueryClient.TestPngs(FashionMnist.Load(DatasetSplit.Test), Enumerable.Range(0, 200));

        var clock = Stopwatch.StartNew();
        var answers = new ConcurrentQueue<Answer>();
        using var stop = new CancellationTokenSource();
        var querying = Enumerable.Range(0, parallel).Select(w => Task.Run(async () =>
        {
            for (var i = w; !stop.IsCancellationRequested; i += parallel)
                answers.Enqueue(await QueryClient.PostTimedAsync(http, pngs[i % pngs.Length], clock.Elapsed.TotalSeconds));
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken); // answers before the job, as a baseline
        var requestId = await services.GetRequiredService<RetrainScheduler>().RequestNowAsync("bench", cancellationToken);
        var requestedAt = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"dpq bench retrain: requested {requestId}; queries running ({parallel} at a time)");
        var stages = new Dictionary<string, double>();
        var coverage = new List<(double At, long Covered, long Images)>();
        RetrainJobState? state = null;
        while (clock.Elapsed.TotalSeconds - requestedAt < timeout.TotalSeconds)
        {
            if (await RetrainJob.ReadStateAsync(models, requestId, cancellationToken) is { } read)
            {
                state = read;
                var stage = state.Stage.ToString().ToLowerInvariant();
                if (stages.TryAdd(stage, clock.Elapsed.TotalSeconds)) Console.WriteLine($"dpq bench retrain: {clock.Elapsed.TotalSeconds,7:F1} s  {stage}  {state.Progress}");
                if (state.Stage == RetrainStage.Backfilling && (coverage.Count == 0 || coverage[^1].Covered != state.Covered)) coverage.Add((clock.Elapsed.TotalSeconds, state.Covered, state.Images));
                if (state.Stage == RetrainStage.Done) break;
            }
            await Task.Delay(200, cancellationToken);
        }
        if (state?.Stage != RetrainStage.Done) throw new UsageException($"the job did not finish within {timeout.TotalSeconds:F0} s");
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken); // answers after the switch
        await stop.CancelAsync();
        await Task.WhenAll(querying);

        var after = state.Version!;
        var record = await services.GetRequiredService<VersionRecords>().GetAsync(after, cancellationToken);
        var list = answers.OrderBy(a => a.At).ToList();
        var failed = list.Count(a => a.Status != 200);
        var empty = list.Count(a => a.Status == 200 && a.Results == 0);
        var firstNew = list.FirstOrDefault(a => a.Version == after);
        var activatedOffset = record?.ActivatedAt is { } activated ? (activated - DateTimeOffset.UtcNow).TotalSeconds + clock.Elapsed.TotalSeconds : double.NaN;
        var window = list.Where(a => a.At >= activatedOffset - 5 && a.At <= (firstNew?.At ?? activatedOffset) + 5).ToList();
        var backfillStart = stages.GetValueOrDefault("backfilling", double.NaN);
        var backfillEnd = stages.GetValueOrDefault("settling", stages.GetValueOrDefault("done", double.NaN));
        var images = state.Images;
        var numbers = new
        {
            machine = Environment.ProcessorCount + " cores",
            before,
            after,
            outcome = state.Outcome,
            images,
            trainingSeconds = backfillStart - requestedAt,
            backfillSeconds = backfillEnd - backfillStart,
            backfillImagesPerSecond = images / (backfillEnd - backfillStart),
            coveredToFlippedSeconds = record is { CoveredAt: { } c, ActivatedAt: { } f } ? (f - c).TotalSeconds : double.NaN,
            flipToFirstNewAnswerSeconds = firstNew is null ? double.NaN : firstNew.At - activatedOffset,
            queries = list.Count,
            failed,
            empty,
            oldVersionAnswers = list.Count(a => a.Version == before),
            newVersionAnswers = list.Count(a => a.Version == after),
            latencyP50Ms = QueryClient.Percentile(list.Select(a => a.Ms), 0.5),
            latencyP99Ms = QueryClient.Percentile(list.Select(a => a.Ms), 0.99),
            switchWindowQueries = window.Count,
            switchWindowP50Ms = QueryClient.Percentile(window.Select(a => a.Ms), 0.5),
            switchWindowP99Ms = QueryClient.Percentile(window.Select(a => a.Ms), 0.99),
            switchWindowMaxMs = window.Count == 0 ? double.NaN : window.Max(a => a.Ms),
            stages,
            coverage = coverage.Select(x => new { at = x.At - backfillStart, covered = x.Covered, images = x.Images }),
        };
        var text = JsonSerializer.Serialize(numbers, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        Console.WriteLine(text);
        if (jsonPath is not null) await File.WriteAllTextAsync(jsonPath, text, cancellationToken);
        return failed == 0 && empty == 0 ? 0 : 1;
    }
}
