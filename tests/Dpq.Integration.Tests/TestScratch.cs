using System.Diagnostics;

namespace Dpq.Integration.Tests;

/// <summary>
/// One temporary folder per test process (/tmp/dpq-tests-PID) for model caches and the tiny model.
/// The test host is often killed rather than exited, so cleanup happens at the start of the next
/// run: folders of processes that no longer exist are removed.
/// </summary>
public static class TestScratch
{
    private const string Prefix = "dpq-tests-";

    private static readonly Lazy<DirectoryInfo> Root = new(() =>
    {
        var temp = new DirectoryInfo(Path.GetTempPath());
        foreach (var stale in temp.EnumerateDirectories(Prefix + "*"))
        {
            if (int.TryParse(stale.Name.AsSpan(Prefix.Length), out var pid) && IsAlive(pid)) continue;
            try { stale.Delete(recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return temp.CreateSubdirectory(Prefix + Environment.ProcessId);
    });

    public static string NewDirectory(string prefix) => Root.Value.CreateSubdirectory($"{prefix}-{Guid.NewGuid():N}").FullName;

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
