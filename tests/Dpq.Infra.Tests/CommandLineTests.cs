using System.Diagnostics;
using System.Reflection;

namespace Dpq.Infra.Tests;

/// <summary>
/// The built command line (core/Dpq.Cli, what ./dpq runs), run as a process against a stand-in repository
/// whose scripts only record that they ran: help must never run one, bad options must stop before one runs,
/// and the script commands must pass their checked options on.
/// </summary>
public sealed class CommandLineTests : IDisposable
{
    private static readonly string Configuration = typeof(CommandLineTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;

    private static readonly string Executable = Path.Combine(BicepCli.RepoRoot, "core", "Dpq.Cli", "bin", Configuration, "net10.0", "dpq");

    private readonly string _root = Directory.CreateTempSubdirectory("dpq-cli-").FullName;

    public CommandLineTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "scripts"));
        foreach (var script in new[] { "deps.sh", "test.sh", "demo.sh", "stack.sh", "azurite.sh", "bench-query.sh" })
            File.WriteAllText(Path.Combine(_root, "scripts", script), $"echo \"{script} $*\" >> \"$(dirname \"$0\")/../ran.txt\"\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Ran => Path.Combine(_root, "ran.txt");

    private (int ExitCode, string Out, string Err) Run(params string[] args)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: build core/Dpq.Cli (./dpq test builds everything first)");
        var psi = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DPQ_REPO_ROOT"] = _root;
        psi.Environment.Remove("DpqStorage");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), $"dpq {string.Join(' ', args)} did not finish within 60 s");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The command names a help text lists under "Commands:".</summary>
    private static IEnumerable<string> Commands(string help) => help.Split('\n')
        .SkipWhile(l => !l.StartsWith("Commands:", StringComparison.Ordinal)).Skip(1)
        .TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal))
        .Select(l => l.Trim().Split(' ')[0]);

    [Fact]
    public void EveryCommandAnswersHelpAndRunsNothing()
    {
        var root = Run("--help");
        Assert.Equal(0, root.ExitCode);
        var commands = Commands(root.Out).ToList();
        Assert.Contains("import", commands);
        Assert.Contains("up", commands);
        Assert.Contains("setup", commands);
        Assert.DoesNotContain("demo-run", commands); // what scripts run is hidden
        var paths = new List<string[]>();
        foreach (var command in commands)
        {
            paths.Add([command]);
            var help = Run(command, "--help");
            paths.AddRange(Commands(help.Out).Select(sub => new[] { command, sub }));
        }
        Assert.Contains(paths, p => p.SequenceEqual(["bench", "query"]));
        foreach (var path in paths)
        {
            var (exitCode, output, error) = Run([.. path, "--help"]);
            Assert.True(exitCode == 0, $"dpq {string.Join(' ', path)} --help exited {exitCode}: {error}");
            Assert.Contains($"dpq {string.Join(' ', path)}", output);
            Assert.Contains("Usage:", output);
        }
        Assert.False(File.Exists(Ran), $"help ran a script: {(File.Exists(Ran) ? File.ReadAllText(Ran) : "")}");
    }

    [Fact]
    public void AnUnknownOptionIsAnErrorWithASuggestion()
    {
        var (exitCode, output, error) = Run("demo", "--cuont", "5");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("Unrecognized command or argument '--cuont'", error);
        Assert.Contains("'--cuont' was not matched. Did you mean one of the following?\n--count", output);
        Assert.False(File.Exists(Ran));
    }

    [Fact]
    public void AValueOutOfRangeStopsTheCommandBeforeItsScriptRuns()
    {
        var (exitCode, _, error) = Run("demo", "--count", "0");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("--count must be a whole number from 1 to 59000 (got 0)", error);
        Assert.False(File.Exists(Ran));
    }

    [Fact]
    public void ScriptCommandsPassTheirCheckedOptionsOn()
    {
        Assert.Equal(0, Run("demo", "--keep", "--count", "5").ExitCode);
        Assert.Equal(0, Run("test", "--fast").ExitCode);
        Assert.Equal(0, Run("azurite", "status").ExitCode);
        Assert.Equal(
            ["demo.sh --keep --count 5 --uploads 20 --queries 200 --seed 1", "test.sh --fast", "azurite.sh status"],
            File.ReadAllLines(Ran));
    }
}
