using System.CommandLine;

namespace Dpq.Cli;

/// <summary>
/// The commands that run the project's scripts: setup, test, the local stack, the demo, Azurite and the
/// query benchmark. Their options are declared and checked here, so help and errors look like every
/// other command's; the scripts get the checked options.
/// </summary>
public static class StackCommands
{
    public static Command Setup() => new Command("setup", "install what the project needs (Debian packages, Azurite, NuGet packages) and build")
        .Runs((_, ct) => Scripts.RunAsync("deps.sh", [], ct));

    public static Command Test()
    {
        var fast = CliOptions.Flag("--fast", "only the tests that need no Azurite (unit, training, infra)");
        return new Command("test", "the whole test suite; the last line totals every project: N passed, N failed, N skipped")
            .With(fast)
            .Runs((r, ct) => Scripts.RunAsync("test.sh", r.GetValue(fast) ? ["--fast"] : [], ct));
    }

    public static Command Demo()
    {
        var keep = CliOptions.Flag("--keep", "leave the stack running (stop it with ./dpq down)");
        var retrain = CliOptions.Flag("--retrain", "train the default model anew");
        var count = CliOptions.Int("--count", "images bulk-imported", 3000, 1, 59000);
        var uploads = CliOptions.Int("--uploads", "images uploaded through the blob trigger", 20, 0, 1000);
        var queries = CliOptions.Int("--queries", "test-image queries per code length", 200, 1, 10000);
        var seed = CliOptions.Int("--seed", "which images are stored and queried", 1);
        return new Command("demo", "the main job, run locally: train (once), start the stack, upload, index, query")
            .With(keep, retrain, count, uploads, queries, seed)
            .Runs((r, ct) =>
            {
                var args = new List<string>();
                if (r.GetValue(keep)) args.Add("--keep");
                if (r.GetValue(retrain)) args.Add("--retrain");
                args.AddRange(["--count", $"{r.GetValue(count)}", "--uploads", $"{r.GetValue(uploads)}", "--queries", $"{r.GetValue(queries)}", "--seed", $"{r.GetValue(seed)}"]);
                return Scripts.RunAsync("demo.sh", args, ct);
            });
    }

    public static Command Up() => new Command("up", "start the local stack (Azurite, functions host, worker) until Ctrl+C")
        .Runs(async (_, ct) =>
        {
            var started = await Scripts.RunAsync("stack.sh", ["start"], CancellationToken.None);
            if (started != 0) return started;
            var url = await Scripts.OutputAsync("stack.sh", ["url"], CancellationToken.None);
            Console.WriteLine($"dpq up: search page {url}/api/search, query URL {url}/api/query; press Ctrl+C to stop (or run ./dpq down from another shell)");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }
            return await Scripts.RunAsync("stack.sh", ["stop"], CancellationToken.None);
        });

    public static Command Down() => new Command("down", "stop a stack left running by ./dpq demo --keep or ./dpq up")
        .Runs((_, ct) => Scripts.RunAsync("stack.sh", ["stop"], ct));

    public static Command Azurite()
    {
        var action = new Argument<string>("action") { Description = "start, stop, status or connection-string" };
        action.AcceptOnlyFromAmong("start", "stop", "status", "connection-string");
        return new Command("azurite", "the local storage emulator")
            .With(action)
            .Runs((r, ct) => Scripts.RunAsync("azurite.sh", [r.GetRequiredValue(action)], ct));
    }

    public static Command BenchQuery()
    {
        var model = CliOptions.Text("--model", "the model folder (default: the demo's)", "DIR");
        var n = CliOptions.Int("--n", "items in the index", 100_000, 1, 10_000_000);
        var queries = CliOptions.Int("--queries", "test-image queries per code length", 200, 1, 10_000);
        var json = CliOptions.Text("--json", "where to write the numbers", "FILE");
        var keep = CliOptions.Flag("--keep", "leave the stack and its data (a later run adds only the difference)");
        var seed = CliOptions.Int("--seed", "synthetic codes seed", 1);
        var shards = CliOptions.Int("--shards", "index shards", Indexing.IndexKeys.DefaultShardCount, 1, 48);
        var throughput = CliOptions.Int("--throughput-queries", "queries of the throughput run (0: none)", 4000, 0, 1_000_000);
        return new Command("query", "HTTP query latency of the local stack with N items indexed")
            .With(model, n, queries, json, keep, seed, shards, throughput)
            .Runs((r, ct) =>
            {
                var args = new List<string> { "--n", $"{r.GetValue(n)}", "--queries", $"{r.GetValue(queries)}", "--seed", $"{r.GetValue(seed)}",
                    "--shards", $"{r.GetValue(shards)}", "--throughput-queries", $"{r.GetValue(throughput)}" };
                if (r.GetValue(model) is { } m) args.AddRange(["--model", Path.GetFullPath(m)]);
                if (r.GetValue(json) is { } j) args.AddRange(["--json", Path.GetFullPath(j)]);
                if (r.GetValue(keep)) args.Add("--keep");
                return Scripts.RunAsync("bench-query.sh", args, ct);
            });
    }
}
