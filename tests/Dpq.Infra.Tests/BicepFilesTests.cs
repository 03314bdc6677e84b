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
        // main.bicep in the classic form, whose modules the tests find by resourceId(): a user-defined
        // function or type there would compile it to language version 2.0, where they are symbolic names.
        if (file == "main.bicep")
            Assert.False(arm.RootElement.TryGetProperty("languageVersion", out var version), $"{file} compiles to language version {version}");
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

    private static List<JsonElement> Resources(string module)
    {
        var result = BicepCli.Run("build", "--stdout", Path.Combine(BicepCli.InfraDir, "modules", module));
        Assert.Equal(0, result.ExitCode);
        var resources = JsonDocument.Parse(result.StdOut).RootElement.GetProperty("resources");
        return resources.ValueKind == JsonValueKind.Array
            ? resources.EnumerateArray().ToList()
            : resources.EnumerateObject().Select(p => p.Value).ToList();
    }

    [Fact]
    public void BlobDeletesReachTheirQueueThroughTheTopicsOwnIdentityWhichMaySendMessagesOnly()
    {
        var all = Resources("eventgrid.bicep");
        var topic = all.Single(r => r.GetProperty("type").GetString() == "Microsoft.EventGrid/systemTopics");
        Assert.Equal("SystemAssigned", topic.GetProperty("identity").GetProperty("type").GetString());
        var subscription = CompiledTemplates.Resources("eventgrid-subscription.bicep").Single(r => r.GetProperty("type").GetString() == "Microsoft.EventGrid/systemTopics/eventSubscriptions"
            && r.GetProperty("name").GetString()!.Contains("'blob-deleted'", StringComparison.Ordinal));
        var props = subscription.GetProperty("properties");
        Assert.Equal(["Microsoft.Storage.BlobDeleted"], props.GetProperty("filter").GetProperty("includedEventTypes").EnumerateArray().Select(e => e.GetString()));
        var delivery = props.GetProperty("deliveryWithResourceIdentity");
        Assert.Equal("SystemAssigned", delivery.GetProperty("identity").GetProperty("type").GetString());
        Assert.Equal("StorageQueue", delivery.GetProperty("destination").GetProperty("endpointType").GetString());
        Assert.Contains("blobEventsQueue", delivery.GetProperty("destination").GetProperty("properties").GetProperty("queueName").GetString());
        // Storage Queue Data Message Sender (LeastPrivilegeTests: on that queue only); the other role is for dead letters.
        Assert.Single(all, r => r.GetProperty("type").GetString() == "Microsoft.Authorization/roleAssignments"
            && r.GetProperty("properties").GetProperty("roleDefinitionId").GetString()!.Contains("queueMessageSender", StringComparison.Ordinal));
    }

    [Fact]
    public void TheWorkerWakesForUploadsAndForDeletes()
    {
        var app = Resources("worker.bicep").Single(r => r.GetProperty("type").GetString() == "Microsoft.App/containerApps");
        var rules = app.GetProperty("properties").GetProperty("template").GetProperty("scale").GetProperty("rules").EnumerateArray()
            .Select(r => r.GetProperty("azureQueue").GetProperty("queueName").GetString()).ToList();
        Assert.Equal(2, rules.Count);
        Assert.Contains(rules, q => q!.Contains("DPQ_ENCODE_QUEUE"));
        Assert.Contains(rules, q => q!.Contains("DPQ_BLOB_EVENTS_QUEUE"));
    }

    [Fact]
    public void RetrainingRunsAsAJobStartedByATrainRequestOneAtATimeThatExitsWhenDone()
    {
        var job = Resources("worker.bicep").Single(r => r.GetProperty("type").GetString() == "Microsoft.App/jobs");
        var config = job.GetProperty("properties").GetProperty("configuration");
        Assert.Equal("Event", config.GetProperty("triggerType").GetString());
        var scale = config.GetProperty("eventTriggerConfig").GetProperty("scale");
        Assert.Equal(1, scale.GetProperty("maxExecutions").GetInt32());
        var rule = Assert.Single(scale.GetProperty("rules").EnumerateArray());
        Assert.Equal("azure-queue", rule.GetProperty("type").GetString());
        Assert.Contains("DPQ_TRAIN_QUEUE", rule.GetProperty("metadata").GetProperty("queueName").GetString());
        Assert.True(rule.TryGetProperty("identity", out _)); // signs in with the managed identity, no connection string
        var env = job.GetProperty("properties").GetProperty("template").GetProperty("containers")[0].GetProperty("env").GetRawText();
        Assert.Contains("Trainer__ExitWhenIdle", env);
    }
}
