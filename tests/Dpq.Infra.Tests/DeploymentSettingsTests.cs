using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dpq.Storage;

namespace Dpq.Infra.Tests;

/// <summary>
/// The compiled ARM template of main.bicep sets every app setting the deployed code reads: the
/// %SETTING% expressions in functions.metadata, the storage names, and the identity-based
/// connection the triggers name. A renamed setting on either side fails here, not in Azure.
/// </summary>
public sealed partial class DeploymentSettingsTests
{
    private static readonly string Configuration = typeof(DeploymentSettingsTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;

    private static readonly Lazy<string> MainTemplate = new(() =>
    {
        var result = BicepCli.Run("build", "--stdout", Path.Combine(BicepCli.InfraDir, "main.bicep"));
        Assert.True(result.ExitCode == 0, result.StdErr);
        return result.StdOut;
    });

    // A setting appears as a JSON property ("NAME": value) or, where Bicep compiled an object that
    // holds expressions, as a key of ARM's createObject('NAME', value, ...).
    private static bool TemplateSets(string setting) =>
        MainTemplate.Value.Contains($"\"{setting}\":", StringComparison.Ordinal)
        || MainTemplate.Value.Contains($"createObject('{setting}', ", StringComparison.Ordinal)
        || MainTemplate.Value.Contains($", '{setting}', ", StringComparison.Ordinal);

    [GeneratedRegex("%([A-Za-z0-9_]+)%")]
    private static partial Regex SettingExpression();

    [Fact]
    public void EveryBindingExpressionInTheFunctionsMetadataIsSet()
    {
        var path = Path.Combine(BicepCli.RepoRoot, "functions", "Dpq.Functions", "bin", Configuration, "net10.0", "functions.metadata");
        var expressions = SettingExpression().Matches(File.ReadAllText(path)).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(expressions); // the images container and both schedules at least
        Assert.All(expressions, s => Assert.True(TemplateSets(s), $"main.bicep does not set {s}"));
    }

    [Fact]
    public void EveryStorageNameSettingIsSet()
    {
        var settings = typeof(StorageNames.Settings).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (string)f.GetValue(null)!).ToList();
        Assert.NotEmpty(settings);
        Assert.All(settings, s => Assert.True(TemplateSets(s), $"main.bicep does not set {s}"));
    }

    [Theory]
    [InlineData("DpqStorage__blobServiceUri")]
    [InlineData("DpqStorage__queueServiceUri")]
    [InlineData("DpqStorage__tableServiceUri")]
    [InlineData("DpqStorage__credential")]
    [InlineData("AzureWebJobsStorage__accountName")]
    public void TheIdentityBasedConnectionsAreSet(string setting) => Assert.True(TemplateSets(setting), $"main.bicep does not set {setting}");

    [Fact]
    public void TheWorkerAndTheJobSendTelemetryAsTheirOwnIdentity()
    {
        // The Function Apps' contract (modules/functionapp.bicep), evaluated for the two containers.
        var snapshot = DeploymentSnapshots.Of();
        var component = Regex.Escape(snapshot.Single("Microsoft.Insights/components").GetProperty("id").GetString()!);
        foreach (var (resource, identity) in new[] { (snapshot.WorkerApp, "worker"), (snapshot.TrainerJob, "trainer") })
        {
            var env = Snapshot.Env(resource);
            Assert.Matches($@"^\[reference\('{component}', '[^']+'\)\.ConnectionString\]$", env["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
            const string Format = "[format('ClientId={0};Authorization=AAD', ";
            var authentication = env["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"];
            Assert.StartsWith(Format, authentication);
            Assert.EndsWith(")]", authentication);
            var clientId = authentication[Format.Length..^2]; // reference('<identity>', ...).clientId
            Assert.Contains($"/userAssignedIdentities/id-dpq-{identity}-", clientId);
            Assert.Equal(env["DpqStorage__clientId"], $"[{clientId}]"); // the identity it reads storage as
        }
    }

    [Fact]
    public void NoSettingCarriesAnAccountKey()
    {
        Assert.DoesNotContain("AccountKey=", MainTemplate.Value, StringComparison.Ordinal);
        Assert.DoesNotContain("listKeys(resourceId('Microsoft.Storage", MainTemplate.Value, StringComparison.Ordinal);
    }
}
