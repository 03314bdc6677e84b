using System.Diagnostics;
using System.Reflection;

namespace Dpq.Infra.Tests;

/// <summary>Runs the real Bicep CLI that the test project fetched as a NuGet package.</summary>
internal static class BicepCli
{
    public static string RepoRoot { get; } = Metadata("RepoRoot");

    public static string InfraDir => Path.Combine(RepoRoot, "infra");

    private static readonly Lazy<string> Executable = new(() =>
    {
        var path = Path.Combine(Metadata("BicepPackageDir"), "tools", "bicep");
        if (!File.Exists(path)) throw new FileNotFoundException($"Bicep CLI not found at {path}: run dotnet restore", path);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute);
        return path;
    });

    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        /// <summary>Diagnostic lines ("file(line,col) : Warning rule: text" or Error).</summary>
        public IReadOnlyList<string> Diagnostics => StdErr.Split('\n')
            .Where(l => l.Contains(" : Warning ", StringComparison.Ordinal) || l.Contains(" : Error ", StringComparison.Ordinal))
            .ToList();
    }

    public static Result Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Executable.Value)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["BICEP_TRACING_ENABLED"] = "false";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start bicep");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', args)} did not finish in 2 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Metadata(string key) =>
        typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"assembly metadata {key} missing");
}
