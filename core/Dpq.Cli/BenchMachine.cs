namespace Dpq.Cli;

/// <summary>What BenchCommand.Machine() leaves out of a CPU's identity: its family and model numbers (which tell, say, Zen 3 from Zen 4).</summary>
internal static class BenchMachine
{
    /// <summary>"family F model M" from /proc/cpuinfo; null where there is none.</summary>
    public static string? CpuId()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (!File.Exists(cpuInfo)) return null;
        string? Field(string name) => File.ReadLines(cpuInfo).FirstOrDefault(l => l.Split(':', 2)[0].Trim() == name)?.Split(':', 2)[1].Trim();
        return Field("cpu family") is { } family && Field("model") is { } model ? $"family {family} model {model}" : null;
    }
}
