using System.Diagnostics;

namespace Dpq.Cli;

/// <summary>
/// The repository's shell scripts (scripts/), which run the local stack, the tests and the setup: the
/// commands that wrap them parse and check their options here, then hand the script only what it needs.
/// </summary>
internal static class Scripts
{
    /// <summary>The repository root: DPQ_REPO_ROOT (./dpq sets it), else the folder above this binary holding DpqServerless.sln.</summary>
    private static readonly Lazy<string> s_root = new(FindRoot);

    public static string RepoRoot => s_root.Value;

    /// <summary>The repository root when this program runs from one; else the current folder (a copied binary).</summary>
    public static string RepoRootOrCurrent
    {
        get
        {
            try
            {
                return RepoRoot;
            }
            catch (UsageException)
            {
                return Environment.CurrentDirectory;
            }
        }
    }

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("DPQ_REPO_ROOT") is { Length: > 0 } root) return root;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DpqServerless.sln"))) return dir.FullName;
        throw new UsageException("cannot find the repository (DpqServerless.sln) above this program; run it through ./dpq");
    }

    /// <summary>Runs scripts/<paramref name="name"/> with the terminal attached; returns its exit code. Cancelling stops it.</summary>
    public static async Task<int> RunAsync(string name, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        using var process = Start(name, arguments, captureOutput: false);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C reached the script too (same process group); give it the time its traps need.
            if (!process.WaitForExit(TimeSpan.FromSeconds(30))) process.Kill(entireProcessTree: true);
            throw;
        }
        return process.ExitCode;
    }

    /// <summary>Runs scripts/<paramref name="name"/> and returns what it printed (trimmed); a failure is a <see cref="UsageException"/> with its exit code.</summary>
    public static async Task<string> OutputAsync(string name, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        using var process = Start(name, arguments, captureOutput: true);
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0) throw new UsageException($"scripts/{name} {string.Join(' ', arguments)} failed (exit {process.ExitCode})");
        return output.Trim();
    }

    private static Process Start(string name, IEnumerable<string> arguments, bool captureOutput)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = captureOutput, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(RepoRoot, "scripts", name));
        foreach (var a in arguments) info.ArgumentList.Add(a);
        return Process.Start(info) ?? throw new InvalidOperationException($"could not start scripts/{name}");
    }
}
