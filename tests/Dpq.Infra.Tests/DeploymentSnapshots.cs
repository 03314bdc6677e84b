using System.Collections.Concurrent;
using System.Text.Json;

namespace Dpq.Infra.Tests;

/// <summary>
/// What main.bicep would deploy for given parameter values, as the real Bicep CLI predicts it
/// (<c>bicep snapshot</c>): every module expanded and every expression evaluated that needs no live
/// resource, so conditions and defaults are seen as ARM applies them. Values only Azure knows (a
/// principal id, a connection string) stay as <c>[reference('&lt;resource id&gt;', ...)...]</c> expressions,
/// which name the resource they read. Each parameter set is predicted once per test run.
/// </summary>
internal static class DeploymentSnapshots
{
    public const string ResourceGroup = "rg-dpq";
    public const string Subscription = "00000000-0000-0000-0000-000000000001";

    private static readonly ConcurrentDictionary<string, Lazy<Snapshot>> Cache = new(StringComparer.Ordinal);

    /// <summary>main.bicep deployed with environmentName "dev" and these parameters (Bicep literals: "true", "'text'").</summary>
    public static Snapshot Of(params (string Name, string Value)[] parameters)
    {
        var all = WithDefaults(parameters);
        var key = string.Join(";", all.Select(p => $"{p.Item1}={p.Item2}"));
        return Cache.GetOrAdd(key, _ => new Lazy<Snapshot>(() => Predict(all, (result, snapshot) =>
        {
            Assert.True(result.ExitCode == 0, $"bicep snapshot failed:\n{result.StdOut}\n{result.StdErr}");
            using var doc = JsonDocument.Parse(File.ReadAllText(snapshot));
            Assert.Empty(doc.RootElement.GetProperty("diagnostics").EnumerateArray());
            return new Snapshot(doc.RootElement.Clone());
        }))).Value;
    }

    /// <summary>What the CLI says when it cannot predict a deployment with these parameters (the template refuses them).</summary>
    public static string Refusal(params (string Name, string Value)[] parameters) =>
        Predict(WithDefaults(parameters), (result, _) =>
        {
            Assert.True(result.ExitCode != 0, $"bicep snapshot accepted {string.Join(", ", parameters.Select(p => $"{p.Name} = {p.Value}"))}");
            return result.StdOut + result.StdErr;
        });

    private static List<(string Name, string Value)> WithDefaults((string Name, string Value)[] parameters) =>
        new[] { ("environmentName", "'dev'") }.Where(d => parameters.All(p => p.Name != d.Item1)).Concat(parameters).ToList();

    private static T Predict<T>(IReadOnlyList<(string Name, string Value)> parameters, Func<BicepCli.Result, string, T> read)
    {
        var dir = Directory.CreateTempSubdirectory("dpq-snapshot-");
        try
        {
            var main = Path.GetRelativePath(dir.FullName, Path.Combine(BicepCli.InfraDir, "main.bicep")).Replace('\\', '/');
            var file = Path.Combine(dir.FullName, "main.bicepparam");
            File.WriteAllLines(file, [$"using '{main}'", .. parameters.Select(p => $"param {p.Name} = {p.Value}")]);
            var result = BicepCli.Run("snapshot", file, "--mode", "overwrite", "--subscription-id", Subscription,
                "--resource-group", ResourceGroup, "--location", "swedencentral");
            return read(result, Path.ChangeExtension(file, ".snapshot.json"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

internal sealed class Snapshot(JsonElement root)
{
    public IReadOnlyList<JsonElement> Resources { get; } = root.GetProperty("predictedResources").EnumerateArray().ToList();

    public JsonElement Outputs { get; } = root.GetProperty("outputs");

    public IEnumerable<JsonElement> OfType(string type) => Resources.Where(r => r.GetProperty("type").GetString() == type);

    public JsonElement Single(string type) => Assert.Single(OfType(type));

    /// <summary>The one resource of a type whose name passes the test.</summary>
    public JsonElement Named(string type, Func<string, bool> name) =>
        Assert.Single(OfType(type), r => name(r.GetProperty("name").GetString()!));

    /// <summary>A role assignment: its scope (the resource id it is on), the role's id and the expression that reads its principal.</summary>
    public sealed record RoleAssignment(string Scope, string Role, string Principal)
    {
        /// <summary>Whether the principal is the user-assigned identity of this component ("worker" for id-dpq-worker-...).</summary>
        public bool IsIdentity(string component) => Principal.Contains($"/userAssignedIdentities/id-dpq-{component}-", StringComparison.Ordinal);
    }

    public IReadOnlyList<RoleAssignment> RoleAssignments => OfType("Microsoft.Authorization/roleAssignments").Select(r =>
    {
        var properties = r.GetProperty("properties");
        return new RoleAssignment(
            Scope(r.GetProperty("id").GetString()!),
            properties.GetProperty("roleDefinitionId").GetString()!.Split('/')[^1],
            properties.GetProperty("principalId").GetString()!);
    }).ToList();

    /// <summary>
    /// The resource an assignment is on, from its id: "&lt;scope&gt;/providers/Microsoft.Authorization/roleAssignments/&lt;guid&gt;",
    /// or, where its name needs a value only Azure knows, "[extensionResourceId('&lt;scope&gt;', ...)]".
    /// </summary>
    private static string Scope(string id)
    {
        const string Extension = "[extensionResourceId('";
        if (id.StartsWith(Extension, StringComparison.Ordinal)) return id[Extension.Length..id.IndexOf('\'', Extension.Length)];
        var at = id.IndexOf("/providers/Microsoft.Authorization/roleAssignments/", StringComparison.Ordinal);
        Assert.True(at > 0, $"a role assignment id of an unknown form: {id}");
        return id[..at];
    }

    /// <summary>The container's environment variables of a Container App or job.</summary>
    public static Dictionary<string, string> Env(JsonElement appOrJob) =>
        Container(appOrJob).GetProperty("env").EnumerateArray()
            .ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("value").GetString()!);

    public static JsonElement Container(JsonElement appOrJob) =>
        Assert.Single(appOrJob.GetProperty("properties").GetProperty("template").GetProperty("containers").EnumerateArray());

    /// <summary>A Function App's app settings (its config/appsettings resource).</summary>
    public Dictionary<string, string> AppSettings(string appNamePrefix) =>
        Named("Microsoft.Web/sites/config", n => n.StartsWith(appNamePrefix, StringComparison.Ordinal) && n.EndsWith("/appsettings", StringComparison.Ordinal))
            .GetProperty("properties").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    public JsonElement WorkerApp => Single("Microsoft.App/containerApps");

    public JsonElement TrainerJob => Single("Microsoft.App/jobs");

    public Dictionary<string, string> QuerySettings => AppSettings("func-dpq-dev-");

    public Dictionary<string, string> IntakeSettings => AppSettings("func-dpq-intake-dev-");

    /// <summary>What each of the four components is configured with: a Function App's app settings, a container's environment.</summary>
    public IEnumerable<(string Component, Dictionary<string, string> Settings)> ComponentSettings =>
    [
        ("query", QuerySettings),
        ("intake", IntakeSettings),
        ("worker", Env(WorkerApp)),
        ("trainer", Env(TrainerJob)),
    ];
}
