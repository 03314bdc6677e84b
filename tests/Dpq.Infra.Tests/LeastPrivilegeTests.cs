using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using static Dpq.Infra.Tests.CompiledTemplates;

namespace Dpq.Infra.Tests;

/// <summary>
/// One identity per component, each allowed only what it uses, read from the templates the real Bicep
/// CLI compiles: the internet-facing query app reads only what it serves, the worker writes codes and
/// segments, the retraining job writes models, nobody holds an owner role, the Functions hosts' state
/// and deployment packages are where the worker and the job hold no role; only the worker and the job
/// pull images, from the registry alone; telemetry and logs without keys; every Event Grid subscription
/// dead-letters; the data account keeps deleted blobs. (The search catalog's roles: SearchCatalogTests.)
/// </summary>
public sealed partial class LeastPrivilegeTests
{
    // Built-in role definition ids (docs: Azure built-in roles).
    private const string Owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    private const string Contributor = "b24988ac-6180-42a3-ab88-20f7382dd24c";
    private const string BlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    private const string StorageAccountContributor = "17d1049b-9a84-46fb-8f53-869881c3d3ab";
    private const string StorageAccountKeyOperator = "81a9662b-bebf-436f-a333-f67b29880f12";
    private const string MonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb";
    private const string BlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    private const string QueueMessageSender = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a";
    private const string AcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";

    /// <summary>
    /// The only roles any template may grant: data-plane roles below owner, telemetry publishing, image
    /// pull, and the search catalog's roles.
    /// </summary>
    private static readonly HashSet<string> AllowedRoles = new(StringComparer.OrdinalIgnoreCase)
    {
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", // Storage Blob Data Reader
        BlobDataContributor,
        "19e7f393-937e-4f77-808e-94535e297925", // Storage Queue Data Reader
        QueueMessageSender,
        "8a0f0c08-91a1-4084-bc3d-661d67233fed", // Storage Queue Data Message Processor
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88", // Storage Queue Data Contributor
        "76199698-9eea-4c19-bc75-cec21354c6b6", // Storage Table Data Reader
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", // Storage Table Data Contributor
        MonitoringMetricsPublisher,
        AcrPull,
        "1407120a-92aa-4202-b7e9-c0e197c71c8f", // Search Index Data Reader
        "8ebe5a00-799e-43f5-93ac-243d3dce84a7", // Search Index Data Contributor
        "7ca78c08-252a-4471-8644-bb5ff32d4ba0", // Search Service Contributor: index schemas, on the one search service
    };

    private const string DataAccount = "storage";

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", RegexOptions.IgnoreCase)]
    private static partial Regex Guid();

    /// <summary>One role an access module (modules/storage-access.bicep) grants: to whom, in which account, on what.</summary>
    private sealed record Grant(string Identity, string Account, string Kind, string Name, string Role)
    {
        public bool Reads => Role.EndsWith(" Reader", StringComparison.Ordinal);
        public bool Is(string setting) => Name.Contains(setting, StringComparison.Ordinal);
    }

    private static List<Grant> Grants()
    {
        var grants = new List<Grant>();
        foreach (var (name, module) in Modules())
        {
            var template = module.GetProperty("properties").GetProperty("template");
            if (!template.TryGetProperty("variables", out var v) || !v.TryGetProperty("roleIds", out _)) continue; // not an access module
            var identity = ModuleReferredTo(Parameter(module, "principalId")) ?? throw new InvalidDataException($"{name}: principalId names no identity module");
            var account = ModuleReferredTo(Parameter(module, "storageAccountName")) ?? throw new InvalidDataException($"{name}: storageAccountName names no storage module");
            foreach (var kind in new[] { "containers", "queues", "tables" })
            {
                if (Parameter(module, kind) is not { } list) continue;
                Assert.Equal(JsonValueKind.Array, list.ValueKind); // written out in main.bicep, so that what is granted can be read
                grants.AddRange(list.EnumerateArray().Select(e => new Grant(identity, account, kind, e.GetProperty("name").GetString()!, e.GetProperty("role").GetString()!)));
            }
            if (Parameter(module, "accountRoles") is { } roles)
                grants.AddRange(roles.EnumerateArray().Select(r => new Grant(identity, account, "account", "", r.GetString()!)));
        }
        return grants;
    }

    [Fact]
    public void NoTemplateGrantsAnOwnerAContributorOrKeyAccess()
    {
        foreach (var file in Files())
        {
            var json = Text(file);
            foreach (var (role, id) in new[] { ("Owner", Owner), ("Contributor", Contributor), ("Storage Blob Data Owner", BlobDataOwner),
                         ("Storage Account Contributor", StorageAccountContributor), ("Storage Account Key Operator", StorageAccountKeyOperator) })
                Assert.False(json.Contains(id, StringComparison.OrdinalIgnoreCase), $"{file} grants {role}");
        }
    }

    [Fact]
    public void EveryRoleTheTemplatesNameIsOnTheList()
    {
        var named = Files().SelectMany(f => Guid().Matches(Text(f)).Select(m => (File: f, Role: m.Value))).ToList();
        Assert.All(named, n => Assert.True(AllowedRoles.Contains(n.Role), $"{n.File} names role {n.Role}, which is not on the list"));
        Assert.Contains(named, n => n.Role == MonitoringMetricsPublisher);
        Assert.Contains(named, n => n.Role == AcrPull);
    }

    [Fact]
    public void OnlyTheWorkerAndTheTrainerPullImagesAndOnlyFromTheRegistry()
    {
        var snapshot = DeploymentSnapshots.Of();
        var registry = snapshot.Single("Microsoft.ContainerRegistry/registries");
        var id = registry.GetProperty("id").GetString();
        var pulls = snapshot.RoleAssignments.Where(a => a.Role == AcrPull).ToList();
        Assert.All(pulls, a => Assert.Equal(id, a.Scope));
        Assert.Equal(2, pulls.Count);
        Assert.Single(pulls, a => a.IsIdentity("worker"));
        Assert.Single(pulls, a => a.IsIdentity("trainer"));
        Assert.All(snapshot.RoleAssignments.Where(a => a.Scope == id), a => Assert.Equal(AcrPull, a.Role)); // nothing else on it

        // No way in but Entra ID: no admin user, no anonymous pull.
        Assert.Equal("Basic", registry.GetProperty("sku").GetProperty("name").GetString());
        var properties = registry.GetProperty("properties");
        Assert.False(properties.GetProperty("adminUserEnabled").GetBoolean());
        Assert.False(properties.GetProperty("anonymousPullEnabled").GetBoolean());
    }

    [Fact]
    public void TheWorkerAndTheJobPullAsTheirOwnIdentity()
    {
        var snapshot = DeploymentSnapshots.Of();
        var registry = Regex.Escape(snapshot.Single("Microsoft.ContainerRegistry/registries").GetProperty("id").GetString()!);
        foreach (var (resource, component) in new[] { (snapshot.WorkerApp, "worker"), (snapshot.TrainerJob, "trainer") })
        {
            var configuration = resource.GetProperty("properties").GetProperty("configuration");
            var pull = Assert.Single(configuration.GetProperty("registries").EnumerateArray());
            Assert.Matches($@"^\[reference\('{registry}', '[^']+'\)\.loginServer\]$", pull.GetProperty("server").GetString());
            Assert.Contains($"/userAssignedIdentities/id-dpq-{component}-", pull.GetProperty("identity").GetString());
            Assert.False(pull.TryGetProperty("passwordSecretRef", out _));
            Assert.False(configuration.TryGetProperty("secrets", out _)); // no registry password anywhere
        }
    }

    [Fact]
    public void EachComponentRunsAsItsOwnIdentity()
    {
        var modules = Modules();
        var identities = modules.Where(m => Resources(m.Value.GetProperty("properties").GetProperty("template"))
            .Any(r => Type(r) == "Microsoft.ManagedIdentity/userAssignedIdentities")).Select(m => m.Key).Order().ToList();
        Assert.Equal(["identity-intake", "identity-query", "identity-trainer", "identity-worker"], identities);

        Assert.Equal("identity-query", ModuleReferredTo(Parameter(Module("functions-query"), "identityId")));
        Assert.Equal("identity-query", ModuleReferredTo(Parameter(Module("functions-query"), "identityClientId")));
        Assert.Equal("identity-intake", ModuleReferredTo(Parameter(Module("functions-intake"), "identityId")));
        Assert.Equal("identity-intake", ModuleReferredTo(Parameter(Module("functions-intake"), "identityClientId")));
        Assert.Equal("identity-worker", ModuleReferredTo(Parameter(Module("worker"), "workerIdentityId")));
        Assert.Equal("identity-worker", ModuleReferredTo(Parameter(Module("worker"), "workerIdentityClientId")));
        Assert.Equal("identity-trainer", ModuleReferredTo(Parameter(Module("worker"), "trainerIdentityId")));
        Assert.Equal("identity-trainer", ModuleReferredTo(Parameter(Module("worker"), "trainerIdentityClientId")));

        // In the worker module, the app and its scale rules use the worker's identity, the job and its rule the trainer's.
        var resources = Resources("modules/worker.bicep");
        var app = resources.Single(r => Type(r) == "Microsoft.App/containerApps");
        var job = resources.Single(r => Type(r) == "Microsoft.App/jobs");
        Assert.Contains("workerIdentityId", app.GetProperty("identity").GetRawText());
        Assert.DoesNotContain("trainerIdentity", app.GetRawText());
        Assert.All(app.GetProperty("properties").GetProperty("template").GetProperty("scale").GetProperty("rules").EnumerateArray(),
            r => Assert.Contains("workerIdentityId", r.GetProperty("azureQueue").GetProperty("identity").GetString()));
        Assert.Contains("trainerIdentityId", job.GetProperty("identity").GetRawText());
        Assert.DoesNotContain("workerIdentity", job.GetRawText());
    }

    [Fact]
    public void TheQueryIdentityOnlyReadsWhatItServes()
    {
        var query = Grants().Where(g => g.Identity == "identity-query").ToList();
        var data = query.Where(g => g.Account == DataAccount).ToList();
        Assert.All(data, g => Assert.True(g.Reads, $"the query identity holds {g.Role} on {g.Name}"));
        Assert.DoesNotContain(data, g => g.Kind is "queues" or "account");
        // The index and the model for queries; the images for the search page's thumbnails.
        Assert.Equal(4, data.Count(g => g.Kind == "containers"));
        Assert.Single(data, g => g.Kind == "containers" && g.Is("DPQ_SEGMENTS_CONTAINER"));
        Assert.Single(data, g => g.Kind == "containers" && g.Is("DPQ_MODELS_CONTAINER"));
        Assert.Single(data, g => g.Kind == "containers" && g.Is("DPQ_IMAGES_CONTAINER"));
        Assert.Single(data, g => g.Kind == "containers" && g.Is("DPQ_IMPORTS_CONTAINER"));
        // The index's rows and the failures for the page's index view.
        Assert.Equal(3, data.Count(g => g.Kind == "tables"));
        Assert.Single(data, g => g.Kind == "tables" && g.Is("DPQ_MANIFESTS_TABLE"));
        Assert.Single(data, g => g.Kind == "tables" && g.Is("DPQ_CODES_TABLE"));
        Assert.Single(data, g => g.Kind == "tables" && g.Is("DPQ_FAILURES_TABLE"));
        // Beyond the data account, only its own app's host account.
        Assert.Equal(["host-storage-query"], query.Where(g => g.Account != DataAccount).Select(g => g.Account).Distinct());

        // No other module hands the query identity's principal a role, except telemetry publishing and
        // the search catalog (where it only reads: SearchCatalogTests).
        var principalUsers = Modules().Where(m => m.Value.GetProperty("properties").GetProperty("parameters").GetRawText()
            .Contains("'identity-query'), '2025-04-01').outputs.principalId", StringComparison.Ordinal)).Select(m => m.Key).Order();
        Assert.Equal(["access-query", "access-query-host", "monitoring", "search"], principalUsers);
    }

    [Fact]
    public void OnlyTheTrainerWritesModelsAndOnlyTheWorkerAndTrainerWriteTheIndex()
    {
        var writes = Grants().Where(g => g.Account == DataAccount && !g.Reads).ToList();
        Assert.Equal(["identity-trainer"], writes.Where(g => g.Kind == "containers" && g.Is("DPQ_MODELS_CONTAINER")).Select(g => g.Identity).Distinct());
        Assert.Equal(["identity-trainer", "identity-worker"],
            writes.Where(g => g.Is("DPQ_SEGMENTS_CONTAINER") || g.Is("DPQ_CODES_TABLE") || g.Is("DPQ_MANIFESTS_TABLE")).Select(g => g.Identity).Distinct().Order());
        Assert.DoesNotContain(writes, g => g.Is("DPQ_IMAGES_CONTAINER") || g.Is("DPQ_IMPORTS_CONTAINER")); // uploads are the users' alone
    }

    [Fact]
    public void TheDataAccountIsGrantedOnlyContainerQueueAndTableAtATime()
    {
        Assert.True(File.Exists(Path.Combine(BicepCli.InfraDir, "modules", "storage-access.bicep")), "there is no modules/storage-access.bicep");
        Assert.DoesNotContain(Grants(), g => g.Account == DataAccount && g.Kind == "account");
        // The access module scopes each role to one container, queue or table (the account only for accountRoles).
        var scopes = Resources("modules/storage-access.bicep").Where(r => Type(r) == "Microsoft.Authorization/roleAssignments")
            .Select(r => r.GetProperty("scope").GetString()!).ToList();
        Assert.Equal(4, scopes.Count);
        Assert.Single(scopes, s => s.Contains("'Microsoft.Storage/storageAccounts/blobServices/containers'", StringComparison.Ordinal));
        Assert.Single(scopes, s => s.Contains("'Microsoft.Storage/storageAccounts/queueServices/queues'", StringComparison.Ordinal));
        Assert.Single(scopes, s => s.Contains("'Microsoft.Storage/storageAccounts/tableServices/tables'", StringComparison.Ordinal));
        Assert.Single(scopes, s => s.Contains("'Microsoft.Storage/storageAccounts'", StringComparison.Ordinal));
    }

    [Fact]
    public void TheFunctionsHostsAndTheirPackagesAreWhereTheWorkerAndTrainerHoldNoRole()
    {
        var grants = Grants();
        Assert.All(grants.Where(g => g.Identity is "identity-worker" or "identity-trainer"), g => Assert.Equal(DataAccount, g.Account));

        // The data account holds no deployment package; each app's state and package are in its own host account.
        var dataContainers = Parameter(Module(DataAccount), "containers")!.Value.GetRawText();
        Assert.DoesNotContain("deployments", dataContainers);
        foreach (var (app, host, identity) in new[] { ("functions-query", "host-storage-query", "identity-query"), ("functions-intake", "host-storage-intake", "identity-intake") })
        {
            Assert.Equal(host, ModuleReferredTo(Parameter(Module(app), "hostStorageAccountName")));
            Assert.Equal(DataAccount, ModuleReferredTo(Parameter(Module(app), "storageAccountName")));
            Assert.Contains("deployments", Parameter(Module(host), "containers")!.Value.GetRawText());
            Assert.Equal([identity], grants.Where(g => g.Account == host).Select(g => g.Identity).Distinct());
        }
        var site = Resources("modules/functionapp.bicep").Single(r => Type(r) == "Microsoft.Web/sites");
        var package = site.GetProperty("properties").GetProperty("functionAppConfig").GetProperty("deployment").GetProperty("storage");
        Assert.Contains("hostStorageAccountName", package.GetProperty("value").GetString());
        Assert.Contains("identityId", package.GetProperty("authentication").GetProperty("userAssignedIdentityResourceId").GetString());
        var settings = Text("modules/functionapp.bicep");
        Assert.Matches("AzureWebJobsStorage__accountName.{0,40}hostStorageAccountName", settings);
    }

    [Fact]
    public void EveryFunctionButTheHealthProbeRunsInExactlyOneAppAndTheQueryAppOnlyServesQueries()
    {
        var configuration = typeof(LeastPrivilegeTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        var metadata = Path.Combine(BicepCli.RepoRoot, "functions", "Dpq.Functions", "bin", configuration, "net10.0", "functions.metadata");
        using var doc = JsonDocument.Parse(File.ReadAllText(metadata));
        var all = doc.RootElement.EnumerateArray().Select(f => f.GetProperty("name").GetString()!).ToHashSet();

        // As deployed with a retraining schedule: then every function of the intake app runs there.
        var deployed = DeploymentSnapshots.Of(("retrainSchedule", "'0 0 3 * * 0'"));
        List<string> Disabled(string app) => [.. deployed.AppSettings(app).Where(s => s.Key.StartsWith("AzureWebJobs.", StringComparison.Ordinal) && s.Value == "true")
            .Select(s => s.Key["AzureWebJobs.".Length..^".Disabled".Length])];
        var offInQuery = Disabled("func-dpq-dev-");
        var offInIntake = Disabled("func-dpq-intake-dev-");
        Assert.Subset(all, offInQuery.ToHashSet());
        Assert.Subset(all, offInIntake.ToHashSet());
        Assert.Empty(offInQuery.Intersect(offInIntake)); // nothing is off in both
        // Everything is off in one app, but the health probe, which each app answers for itself.
        string[] inBoth = ["Health"];
        Assert.Equal(all.Except(inBoth).Order(), offInQuery.Concat(offInIntake).Order());
        Assert.Equal(["Failures", "Health", "IndexStatus", "OpenApi", "Query", "SearchPage", "Thumbnail"], all.Except(offInQuery).Order()); // what the internet-facing app runs
        Assert.Contains("AzureWebJobs.{0}.Disabled", Text("modules/functionapp.bicep"));
    }

    [Fact]
    public void ByDefaultRetrainingIsOnDemandAndTheReconcileSweepDaily()
    {
        var byDefault = DeploymentSnapshots.Of();
        var intake = byDefault.AppSettings("func-dpq-intake-dev-");
        Assert.Equal("true", intake["AzureWebJobs.RetrainTimerTrigger.Disabled"]);
        Assert.False(intake.ContainsKey("AzureWebJobs.Retrain.Disabled")); // the on-demand route stays
        Assert.Matches(@"^\S+ \S+ \S+ \* \* \S+$", intake["DPQ_RETRAIN_SCHEDULE"]); // still a valid schedule for the disabled timer
        Assert.Equal("0 30 3 * * *", intake["DPQ_RECONCILE_SCHEDULE"]);

        var scheduled = DeploymentSnapshots.Of(("retrainSchedule", "'0 0 4 * * 1'")).AppSettings("func-dpq-intake-dev-");
        Assert.False(scheduled.ContainsKey("AzureWebJobs.RetrainTimerTrigger.Disabled"));
        Assert.Equal("0 0 4 * * 1", scheduled["DPQ_RETRAIN_SCHEDULE"]);
    }

    [Fact]
    public void OnlyTheQueryAppLoadsTheModelAndIndexAsItStarts()
    {
        Assert.Contains("createObject('Query__WarmUp', 'false')", Parameter(Module("functions-intake"), "appSettings")!.Value.GetString());
        Assert.DoesNotContain("WarmUp", Parameter(Module("functions-query"), "appSettings")!.Value.GetString());
    }

    [Fact]
    public void NoTemplateHandsOutALogAnalyticsKey()
    {
        foreach (var file in Files())
        {
            var json = Text(file);
            Assert.DoesNotContain("\"sharedKey\"", json, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("primarySharedKey", json, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch(@"listKeys\([^)]*OperationalInsights", json);
        }
        Assert.DoesNotContain("listKeys(", Text("main.bicep"), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void TheContainerAppsEnvironmentLogsToTheWorkspaceThroughAzureMonitor()
    {
        var resources = Resources("modules/worker.bicep");
        var environment = resources.Single(r => Type(r) == "Microsoft.App/managedEnvironments");
        var logs = environment.GetProperty("properties").GetProperty("appLogsConfiguration");
        Assert.Equal("azure-monitor", logs.GetProperty("destination").GetString());
        Assert.False(logs.TryGetProperty("logAnalyticsConfiguration", out _));
        var setting = resources.Single(r => Type(r) == "Microsoft.Insights/diagnosticSettings");
        Assert.Contains("Microsoft.App/managedEnvironments", setting.GetProperty("scope").GetString());
        Assert.Contains("logAnalyticsWorkspaceId", setting.GetProperty("properties").GetProperty("workspaceId").GetString());
        var categories = setting.GetProperty("properties").GetProperty("logs").EnumerateArray()
            .Where(l => l.GetProperty("enabled").GetBoolean()).Select(l => l.GetProperty("category").GetString()).Order();
        Assert.Equal(["ContainerAppConsoleLogs", "ContainerAppSystemLogs"], categories);
        Assert.Equal("monitoring", ModuleReferredTo(Parameter(Module("worker"), "logAnalyticsWorkspaceId")));
    }

    [Fact]
    public void EveryComponentSendsTelemetryAsItsOwnIdentity()
    {
        var resources = Resources("modules/monitoring.bicep");
        var insights = resources.Single(r => Type(r) == "Microsoft.Insights/components");
        Assert.True(insights.GetProperty("properties").GetProperty("DisableLocalAuth").GetBoolean());
        var publisher = Assert.Single(resources, r => Type(r) == "Microsoft.Authorization/roleAssignments");
        Assert.Contains("Microsoft.Insights/components", publisher.GetProperty("scope").GetString());
        Assert.Contains("metricsPublisher", publisher.GetProperty("properties").GetProperty("roleDefinitionId").GetString());
        Assert.Contains(MonitoringMetricsPublisher, Text("modules/monitoring.bicep"));
        Assert.Contains("telemetryPublishers", publisher.GetProperty("properties").GetProperty("principalId").GetString());

        var publishers = Parameter(Module("monitoring"), "telemetryPublishers")!.Value.EnumerateArray().Select(p => ModuleReferredTo(p)).Order();
        Assert.Equal(["identity-intake", "identity-query", "identity-trainer", "identity-worker"], publishers);
        Assert.Matches(@"'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', format\('ClientId=\{0\};Authorization=AAD', parameters\('identityClientId'\)\)",
            Text("modules/functionapp.bicep"));
        // Each publisher on the component itself, once (DeploymentSettingsTests: the containers' settings).
        var snapshot = DeploymentSnapshots.Of();
        var component = snapshot.Single("Microsoft.Insights/components").GetProperty("id").GetString();
        var assignments = snapshot.RoleAssignments.Where(a => a.Role == MonitoringMetricsPublisher).ToList();
        Assert.All(assignments, a => Assert.Equal(component, a.Scope));
        Assert.All(new[] { "query", "intake", "worker", "trainer" }, c => Assert.Single(assignments, a => a.IsIdentity(c)));
        Assert.Equal(4, assignments.Count);
    }

    [Fact]
    public void EveryEventGridSubscriptionDeadLettersWithTheTopicsIdentity()
    {
        Assert.Contains(Files().SelectMany(f => Resources(f)), r => Type(r) == "Microsoft.EventGrid/systemTopics/eventSubscriptions");
        foreach (var file in Files())
        {
            var subscriptions = Resources(file).Where(r => Type(r) == "Microsoft.EventGrid/systemTopics/eventSubscriptions").ToList();
            foreach (var s in subscriptions)
            {
                Assert.True(s.GetProperty("properties").TryGetProperty("deadLetterWithResourceIdentity", out var deadLetter),
                    $"{file}: subscription {s.GetProperty("name").GetString()} has no dead-letter destination with the topic's identity");
                Assert.Equal("SystemAssigned", deadLetter.GetProperty("identity").GetProperty("type").GetString());
                var destination = deadLetter.GetProperty("deadLetterDestination");
                Assert.Equal("StorageBlob", destination.GetProperty("endpointType").GetString());
                Assert.Contains("deadLetterContainer", destination.GetProperty("properties").GetProperty("blobContainerName").GetString());
                Assert.False(string.IsNullOrEmpty(destination.GetProperty("properties").GetProperty("resourceId").GetString()));
            }
        }
        // The topic may write the dead-letter container, nothing else of the account.
        var writes = Assert.Single(Resources("modules/eventgrid.bicep"), r => Type(r) == "Microsoft.Authorization/roleAssignments"
            && r.GetProperty("properties").GetProperty("roleDefinitionId").GetString()!.Contains("blobDataContributor", StringComparison.Ordinal));
        Assert.Contains("'Microsoft.Storage/storageAccounts/blobServices/containers'", writes.GetProperty("scope").GetString());
        Assert.Contains("deadLetterContainer", writes.GetProperty("scope").GetString());
        Assert.Contains(BlobDataContributor, Text("modules/eventgrid.bicep"));
        // main.bicep makes that container in the data account and hands its name to the topic.
        var main = Root("main.bicep");
        var container = main.GetProperty("variables").GetProperty("deadLetterContainer").GetString();
        Assert.Equal("eventgrid-deadletter", container);
        Assert.Equal("[variables('deadLetterContainer')]", Parameter(Module("eventgrid"), "deadLetterContainer")!.Value.GetString());
        Assert.Contains("variables('deadLetterContainer')", Parameter(Module(DataAccount), "containers")!.Value.GetRawText());
        // eventgrid-subscription.bicep defaults to the same container.
        Assert.Equal(container, Root("eventgrid-subscription.bicep").GetProperty("parameters").GetProperty("deadLetterContainer").GetProperty("defaultValue").GetString());
    }

    [Fact]
    public void EachBlobEventSubscriptionIsDefinedOnceInTheTemplateDeployedAfterTheCode()
    {
        // main.bicep makes the topic (and, in a nested template, whatever its modules define): no subscription.
        Assert.DoesNotContain("Microsoft.EventGrid/systemTopics/eventSubscriptions", Text("main.bicep"));
        var defined = Files().SelectMany(f => Resources(f).Where(r => Type(r) == "Microsoft.EventGrid/systemTopics/eventSubscriptions")
            .Select(r => (File: f, Name: r.GetProperty("name").GetString()!))).ToList();
        Assert.All(defined, d => Assert.Equal("eventgrid-subscription.bicep", d.File));
        Assert.Single(defined, d => d.Name.Contains("'blob-upload-trigger'", StringComparison.Ordinal));
        Assert.Single(defined, d => d.Name.Contains("'blob-deleted'", StringComparison.Ordinal));
        Assert.Equal(2, defined.Count);

        // Its defaults are main.bicep's names, so the hook and step 3 pass only the topic and the app.
        var names = Root("main.bicep").GetProperty("variables").GetProperty("names");
        var parameters = Root("eventgrid-subscription.bicep").GetProperty("parameters");
        string? Default(string p) => parameters.GetProperty(p).GetProperty("defaultValue").GetString();
        Assert.Equal(names.GetProperty("DPQ_IMAGES_CONTAINER").GetString(), Default("imagesContainer"));
        Assert.Equal(names.GetProperty("DPQ_BLOB_EVENTS_QUEUE").GetString(), Default("blobEventsQueue"));
        Assert.Equal(new[] { names.GetProperty("DPQ_IMAGES_CONTAINER").GetString(), names.GetProperty("DPQ_IMPORTS_CONTAINER").GetString() },
            parameters.GetProperty("watchedContainers").GetProperty("defaultValue").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void TheTopicSendsBlobDeletedEventsToTheirQueueOnly()
    {
        var sends = Assert.Single(Resources("modules/eventgrid.bicep"), r => Type(r) == "Microsoft.Authorization/roleAssignments"
            && r.GetProperty("properties").GetProperty("roleDefinitionId").GetString()!.Contains("queueMessageSender", StringComparison.Ordinal));
        Assert.Contains("'Microsoft.Storage/storageAccounts/queueServices/queues'", sends.GetProperty("scope").GetString());
        Assert.Contains("blobEventsQueue", sends.GetProperty("scope").GetString());
    }

    [Fact]
    public void BlobUploadEventsGoToTheIntakeApp()
    {
        var template = Root("eventgrid-subscription.bicep");
        Assert.True(template.GetProperty("parameters").TryGetProperty("intakeAppName", out _), "eventgrid-subscription.bicep takes no intake app");
        var subscription = Resources(template).Single(r => Type(r) == "Microsoft.EventGrid/systemTopics/eventSubscriptions"
            && r.GetProperty("name").GetString()!.Contains("'blob-upload-trigger'", StringComparison.Ordinal));
        var url = subscription.GetProperty("properties").GetProperty("destination").GetProperty("properties").GetProperty("endpointUrl").GetString()!;
        Assert.Contains("parameters('intakeAppName')", url);
        Assert.Contains("BlobUploadTrigger", url);
        var outputs = Root("main.bicep").GetProperty("outputs");
        Assert.Equal("functions-intake", ModuleReferredTo(outputs.GetProperty("AZURE_INTAKE_FUNCTION_APP_NAME").GetProperty("value")));
        Assert.Equal("functions-query", ModuleReferredTo(outputs.GetProperty("AZURE_FUNCTION_APP_NAME").GetProperty("value")));
        // The deployment guide subscribes the intake app.
        Assert.Contains("intakeAppName=<AZURE_INTAKE_FUNCTION_APP_NAME output>", File.ReadAllText(Path.Combine(BicepCli.RepoRoot, "docs", "deploy.md")));
    }

    [Fact]
    public void TheDataAccountKeepsDeletedBlobsAndContainers()
    {
        var template = Root("modules/storage.bicep");
        var blobService = Resources(template).Single(r => Type(r) == "Microsoft.Storage/storageAccounts/blobServices");
        Assert.True(blobService.TryGetProperty("properties", out var properties), "the blob service sets no soft delete");
        foreach (var policy in new[] { "deleteRetentionPolicy", "containerDeleteRetentionPolicy" })
        {
            Assert.True(properties.TryGetProperty(policy, out var p), $"the blob service sets no {policy}");
            Assert.True(p.GetProperty("enabled").GetBoolean(), policy);
            Assert.Equal("[parameters('softDeleteDays')]", p.GetProperty("days").GetString());
        }
        var days = template.GetProperty("parameters").GetProperty("softDeleteDays");
        Assert.True(days.GetProperty("defaultValue").GetInt32() >= 7);
        Assert.True(days.GetProperty("minValue").GetInt32() >= 1);
        Assert.Null(Parameter(Module(DataAccount), "softDeleteDays")); // the data account keeps the default
    }
}
