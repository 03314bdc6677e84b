using System.Text.Json;

namespace Dpq.Infra.Tests;

/// <summary>Every Bicep file in infra/ builds and lints with no warning at all.</summary>
public sealed class BicepFilesTests
{
    public static TheoryData<string> BicepFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(BicepCli.InfraDir, "*.bicep", SearchOption.AllDirectories).Order())
            data.Add(Path.GetRelativePath(BicepCli.InfraDir, f));
        return data;
    }

    [Theory]
    [MemberData(nameof(BicepFiles))]
    public void BuildsWithoutWarnings(string file)
    {
        var result = BicepCli.Run("build", "--stdout", Path.Combine(BicepCli.InfraDir, file));
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Empty(result.Diagnostics);
        using var arm = JsonDocument.Parse(result.StdOut); // a real ARM template came out
        Assert.True(arm.RootElement.TryGetProperty("resources", out _));
    }

    [Theory]
    [MemberData(nameof(BicepFiles))]
    public void LintsWithoutWarnings(string file)
    {
        var result = BicepCli.Run("lint", Path.Combine(BicepCli.InfraDir, file));
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Empty(result.Diagnostics);
    }

    [Fact]
    public void TheLinterReportsAWarningWhenThereIsOne()
    {
        // Guards the two tests above: with the project's bicepconfig.json, an unused parameter must
        // surface as a diagnostic, or "no diagnostics" would prove nothing.
        var dir = Directory.CreateTempSubdirectory("dpq-bicep-");
        try
        {
            File.Copy(Path.Combine(BicepCli.InfraDir, "bicepconfig.json"), Path.Combine(dir.FullName, "bicepconfig.json"));
            var file = Path.Combine(dir.FullName, "unused.bicep");
            File.WriteAllText(file, "param unused string\n");
            var result = BicepCli.Run("lint", file);
            Assert.Contains(result.Diagnostics, d => d.Contains("no-unused-params", StringComparison.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void StorageAllowsNoSharedKeysAndNoPublicBlobs()
    {
        var result = BicepCli.Run("build", "--stdout", Path.Combine(BicepCli.InfraDir, "modules", "storage.bicep"));
        Assert.Equal(0, result.ExitCode);
        using var arm = JsonDocument.Parse(result.StdOut);
        var resources = arm.RootElement.GetProperty("resources");
        // ARM JSON lists resources as an array, or as an object keyed by symbolic name.
        var all = resources.ValueKind == JsonValueKind.Array
            ? resources.EnumerateArray().ToList()
            : resources.EnumerateObject().Select(p => p.Value).ToList();
        var account = all.Single(r => r.GetProperty("type").GetString() == "Microsoft.Storage/storageAccounts");
        var props = account.GetProperty("properties");
        Assert.False(props.GetProperty("allowSharedKeyAccess").GetBoolean());
        Assert.False(props.GetProperty("allowBlobPublicAccess").GetBoolean());
    }
}
