using System.Collections.Concurrent;
using System.Text.Json;

namespace Dpq.Infra.Tests;

/// <summary>
/// The ARM templates the real Bicep CLI compiles from infra/, each compiled once per test run. In
/// main.bicep's template every module is a nested deployment (Microsoft.Resources/deployments) named as
/// in the Bicep file, carrying its parameter values and its own compiled template.
/// </summary>
internal static class CompiledTemplates
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Json = new(StringComparer.Ordinal);

    /// <summary>The compiled JSON of a file under infra/ ("main.bicep", "modules/worker.bicep").</summary>
    public static string Text(string file) => Json.GetOrAdd(file, f => new Lazy<string>(() =>
    {
        var result = BicepCli.Run("build", "--stdout", Path.Combine(BicepCli.InfraDir, f));
        Assert.True(result.ExitCode == 0, result.StdErr);
        return result.StdOut;
    })).Value;

    public static JsonElement Root(string file) => JsonDocument.Parse(Text(file)).RootElement;

    /// <summary>Every .bicep file under infra/, relative to it.</summary>
    public static IReadOnlyList<string> Files() =>
        Directory.EnumerateFiles(BicepCli.InfraDir, "*.bicep", SearchOption.AllDirectories).Order()
            .Select(f => Path.GetRelativePath(BicepCli.InfraDir, f).Replace('\\', '/')).ToList();

    /// <summary>The resources of a template; ARM JSON lists them as an array, or as an object keyed by symbolic name.</summary>
    public static List<JsonElement> Resources(JsonElement template)
    {
        var resources = template.GetProperty("resources");
        return resources.ValueKind == JsonValueKind.Array
            ? resources.EnumerateArray().ToList()
            : resources.EnumerateObject().Select(p => p.Value).ToList();
    }

    public static List<JsonElement> Resources(string file) => Resources(Root(file));

    public static string Type(JsonElement resource) => resource.GetProperty("type").GetString()!;

    /// <summary>main.bicep's modules by name.</summary>
    public static Dictionary<string, JsonElement> Modules() =>
        Resources("main.bicep").Where(r => Type(r) == "Microsoft.Resources/deployments")
            .ToDictionary(r => r.GetProperty("name").GetString()!, r => r);

    /// <summary>One of main.bicep's modules, by name.</summary>
    public static JsonElement Module(string name)
    {
        Assert.True(Modules().TryGetValue(name, out var module), $"main.bicep has no module named '{name}'");
        return module;
    }

    /// <summary>The value a module is given for one parameter, or null when main.bicep leaves it to its default.</summary>
    public static JsonElement? Parameter(JsonElement module, string name) =>
        module.GetProperty("properties").GetProperty("parameters").TryGetProperty(name, out var p) ? p.GetProperty("value") : null;

    /// <summary>Whether an ARM expression takes an output of module <paramref name="moduleName"/>.</summary>
    public static bool RefersToModule(JsonElement? value, string moduleName) =>
        value is { ValueKind: JsonValueKind.String } v
        && v.GetString()!.Contains($"'Microsoft.Resources/deployments', '{moduleName}')", StringComparison.Ordinal);

    /// <summary>The name of the module whose output an ARM expression takes (the first one).</summary>
    public static string? ModuleReferredTo(JsonElement? value)
    {
        if (value is not { ValueKind: JsonValueKind.String } v) return null;
        const string Marker = "'Microsoft.Resources/deployments', '";
        var s = v.GetString()!;
        var at = s.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0) return null;
        var start = at + Marker.Length;
        return s[start..s.IndexOf('\'', start)];
    }
}
