using System.Reflection;
using System.Text.Json;
using Dpq.LocalHost;
using Microsoft.Azure.WebJobs;

namespace Dpq.Infra.Tests;

/// <summary>
/// The Azure-side wiring that no local host runs, read from the functions.metadata that the
/// Functions build writes, and checked against the local WebJobs twins of the same triggers.
/// </summary>
public sealed class FunctionsWiringTests
{
    private static readonly string Configuration = typeof(FunctionsWiringTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;

    private static Dictionary<string, JsonElement> Functions()
    {
        var path = Path.Combine(BicepCli.RepoRoot, "functions", "Dpq.Functions", "bin", Configuration, "net10.0", "functions.metadata");
        Assert.True(File.Exists(path), $"{path} is missing: build functions/Dpq.Functions");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!, f => f.Clone());
    }

    private static JsonElement Trigger(JsonElement function) =>
        function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));

    [Fact]
    public void TheLocalSettingsSampleHoldsEverySettingTheBindingsName()
    {
        using var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(BicepCli.RepoRoot, "functions", "Dpq.Functions", "local.settings.sample.json")));
        var values = sample.RootElement.GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal("dotnet-isolated", values["FUNCTIONS_WORKER_RUNTIME"]);
        var named = Functions().Values.SelectMany(f => f.GetProperty("bindings").EnumerateArray()).SelectMany(b => b.EnumerateObject())
            .Where(p => p.Value.ValueKind == JsonValueKind.String)
            .SelectMany(p => p.Name == "connection" ? [p.Value.GetString()!]
                : System.Text.RegularExpressions.Regex.Matches(p.Value.GetString()!, "%([A-Za-z0-9_]+)%").Select(m => m.Groups[1].Value))
            .ToHashSet();
        Assert.Contains("DPQ_IMAGES_CONTAINER", named); // the bindings do name settings
        Assert.All(named, setting => Assert.True(values.ContainsKey(setting), $"local.settings.sample.json lacks {setting}"));
        Assert.All(Functions().Keys.Where(f => values.ContainsKey($"AzureWebJobs.{f}.Disabled")), f => Assert.Equal("RetrainTimerTrigger", f)); // as deployed by default
    }

    [Fact]
    public void TheAppHasExactlyTheExpectedFunctions()
    {
        Assert.Equal(["BlobUploadTrigger", "Failures", "Health", "IndexStatus", "IntakePoisonTrigger", "OpenApi", "Query", "ReconcileTimerTrigger", "Retrain", "RetrainTimerTrigger", "SearchPage", "Thumbnail"],
            Functions().Keys.Order());
    }

    [Fact]
    public void BlobUploadsArriveThroughEventGridOnTheStorageConnection()
    {
        var trigger = Trigger(Functions()["BlobUploadTrigger"]);
        Assert.Equal("blobTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal("EventGrid", trigger.GetProperty("source").GetString()); // Flex Consumption requires it
        Assert.Equal("DpqStorage", trigger.GetProperty("connection").GetString());
        Assert.Equal("%DPQ_IMAGES_CONTAINER%/{name}", trigger.GetProperty("path").GetString());
    }

    [Theory]
    [InlineData("Query", "post", "query")]
    [InlineData("IndexStatus", "get", "index")]
    [InlineData("Retrain", "post", "admin/retrain")]
    [InlineData("SearchPage", "get", "search")]
    [InlineData("Thumbnail", "get", "thumbnails")]
    [InlineData("Failures", "get", "failures")]
    [InlineData("OpenApi", "get", "openapi.json")]
    public void HttpFunctionsNeedAFunctionKey(string name, string method, string route)
    {
        var trigger = Trigger(Functions()[name]);
        Assert.Equal("Function", trigger.GetProperty("authLevel").GetString());
        Assert.Equal([method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(route, trigger.GetProperty("route").GetString());
    }

    [Fact]
    public void OnlyTheHealthProbeIsAnonymous()
    {
        var anonymous = Functions().Where(f => Trigger(f.Value).TryGetProperty("authLevel", out var level) && level.GetString() != "Function").ToList();
        var health = Assert.Single(anonymous);
        Assert.Equal("Health", health.Key);
        Assert.Equal("Anonymous", Trigger(health.Value).GetProperty("authLevel").GetString());
        Assert.Equal("health", Trigger(health.Value).GetProperty("route").GetString());
        Assert.Equal(["get"], Trigger(health.Value).GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public void TheRetrainingScheduleComesFromASetting()
    {
        var trigger = Trigger(Functions()["RetrainTimerTrigger"]);
        Assert.Equal("%DPQ_RETRAIN_SCHEDULE%", trigger.GetProperty("schedule").GetString());
        Assert.False(trigger.TryGetProperty("runOnStartup", out var r) && r.GetBoolean());
    }

    [Fact]
    public void TheLocalTwinsBindTheSameResources()
    {
        var functions = Functions();
        var blob = typeof(LocalBlobUploadTrigger).GetMethod("Run")!.GetParameters()[0].GetCustomAttribute<BlobTriggerAttribute>()!;
        Assert.Equal(Trigger(functions["BlobUploadTrigger"]).GetProperty("path").GetString(), blob.BlobPath);
        Assert.Equal("DpqStorage", blob.Connection);
        var queue = typeof(LocalIntakePoisonTrigger).GetMethod("Run")!.GetParameters()[0].GetCustomAttribute<QueueTriggerAttribute>()!;
        Assert.Equal(Trigger(functions["IntakePoisonTrigger"]).GetProperty("queueName").GetString(), queue.QueueName);
        var timer = typeof(LocalRetrainTimerTrigger).GetMethod("Run")!.GetParameters()[0].GetCustomAttribute<TimerTriggerAttribute>()!;
        Assert.Equal(Trigger(functions["RetrainTimerTrigger"]).GetProperty("schedule").GetString(), timer.ScheduleExpression);
        var reconcile = typeof(LocalReconcileTimerTrigger).GetMethod("Run")!.GetParameters()[0].GetCustomAttribute<TimerTriggerAttribute>()!;
        Assert.Equal(Trigger(functions["ReconcileTimerTrigger"]).GetProperty("schedule").GetString(), reconcile.ScheduleExpression);
        Assert.Equal("%DPQ_RECONCILE_SCHEDULE%", reconcile.ScheduleExpression);
    }

    [Fact]
    public void TheRootHostJsonIsTheOneDeployedAndConfiguresTheQueues()
    {
        var deployed = Path.Combine(BicepCli.RepoRoot, "functions", "Dpq.Functions", "bin", Configuration, "net10.0", "host.json");
        var root = Path.Combine(BicepCli.RepoRoot, "host.json");
        Assert.Equal(File.ReadAllText(root), File.ReadAllText(deployed));
        using var doc = JsonDocument.Parse(File.ReadAllText(root));
        var queues = doc.RootElement.GetProperty("extensions").GetProperty("queues");
        Assert.True(queues.GetProperty("batchSize").GetInt32() > 0);
        Assert.True(queues.GetProperty("maxDequeueCount").GetInt32() > 0);
        Assert.True(TimeSpan.Parse(queues.GetProperty("visibilityTimeout").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > TimeSpan.Zero);
    }
}
