using System.Text.Json;
using System.Text.RegularExpressions;

namespace Dpq.Infra.Tests;

/// <summary>
/// What `azd up` reads: azure.yaml's services each find the one resource tagged with their name, of the
/// kind their host deploys to, and build from files that exist; main.parameters.json gives main.bicep
/// every parameter it needs from azd's environment; main.bicep's outputs give azd its registry and the
/// postdeploy hook what it reads; and the first deployment, before any image exists, runs a placeholder.
/// </summary>
public sealed class AzdTests
{
    private static readonly string AzureYaml = Path.Combine(BicepCli.RepoRoot, "azure.yaml");

    private static YamlMaps.Map Services => YamlMaps.Read(AzureYaml).Child("services");

    /// <summary>The resource type each azd host deploys to (a containerapp service may also be a job).</summary>
    private static readonly Dictionary<string, string[]> HostTypes = new(StringComparer.Ordinal)
    {
        ["function"] = ["Microsoft.Web/sites"],
        ["containerapp"] = ["Microsoft.App/containerApps", "Microsoft.App/jobs"],
    };

    private static string? ServiceTag(JsonElement resource) =>
        resource.TryGetProperty("tags", out var tags) && tags.TryGetProperty("azd-service-name", out var name) ? name.GetString() : null;

    [Fact]
    public void EveryServiceIsOneTaggedResourceOfItsHostsKind()
    {
        var tagged = DeploymentSnapshots.Of().Resources.Where(r => ServiceTag(r) is not null).ToList();
        var services = Services;
        Assert.Equal(["intake", "query", "trainer", "worker"], services.Keys.Order());
        foreach (var (name, _) in services)
        {
            var service = services.Child(name);
            var resource = Assert.Single(tagged, r => ServiceTag(r) == name);
            Assert.Contains(resource.GetProperty("type").GetString(), HostTypes[service.Scalar("host")]);
        }
        Assert.Equal(services.Count, tagged.Count); // no tagged resource without its service
    }

    [Fact]
    public void BothFunctionAppsDeployTheOneFunctionsProject()
    {
        var services = Services;
        foreach (var name in new[] { "query", "intake" })
        {
            var service = services.Child(name);
            Assert.Equal("function", service.Scalar("host"));
            Assert.Equal("dotnet", service.Scalar("language"));
            Assert.Equal(Path.Combine(BicepCli.RepoRoot, "functions", "Dpq.Functions"), Resolve(service.Scalar("project")));
        }
        var snapshot = DeploymentSnapshots.Of();
        var query = Assert.Single(snapshot.OfType("Microsoft.Web/sites"), r => ServiceTag(r) == "query");
        Assert.Equal(snapshot.Outputs.GetProperty("AZURE_FUNCTION_APP_NAME").GetString(), query.GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("worker", "Dockerfile")]
    [InlineData("trainer", "Dockerfile.trainer")]
    public void TheImagesBuildFromTheirDockerfilesWithTheRepositoryAsContext(string name, string dockerfile)
    {
        var service = Services.Child(name);
        Assert.Equal("containerapp", service.Scalar("host"));
        // azd resolves the Dockerfile and the context from the service's project folder.
        var project = Resolve(service.Scalar("project"));
        var docker = service.Child("docker");
        Assert.Equal(Path.Combine(BicepCli.RepoRoot, "gpu-worker", dockerfile), Path.GetFullPath(Path.Combine(project, docker.Scalar("path"))));
        Assert.True(File.Exists(Path.Combine(project, docker.Scalar("path"))));
        Assert.Equal(Path.TrimEndingDirectorySeparator(BicepCli.RepoRoot), Path.GetFullPath(Path.Combine(project, docker.Scalar("context"))));
    }

    [Fact]
    public void TheRequiredAzdVersionDeploysContainerAppsJobs()
    {
        // azd deploys a containerapp service to a Microsoft.App/jobs resource from 1.23.8 on.
        var required = YamlMaps.Read(AzureYaml).Child("requiredVersions").Scalar("azd");
        var version = Regex.Match(required, @"^>=\s*(\d+\.\d+\.\d+)$");
        Assert.True(version.Success, $"requiredVersions.azd is '{required}'");
        Assert.True(Version.Parse(version.Groups[1].Value) >= new Version(1, 23, 8), required);
    }

    private static YamlMaps.Map PostdeployHook => YamlMaps.Read(AzureYaml).Child("hooks").Child("postdeploy");

    [Fact]
    public void ThePostdeployHookRunsTheScriptInTheRepositoryWithBash()
    {
        // azd's one Unix shell is "sh": a path it runs as the file itself (its shebang decides on Linux and
        // macOS, bash on Windows), an inline command in a /bin/sh script. The hook is a bash script
        // (arrays, ${!name}, BASH_SOURCE), so the command names bash rather than leaving it to the file.
        var hook = PostdeployHook;
        Assert.Equal("sh", hook.Scalar("shell"));
        var run = hook.Scalar("run");
        Assert.StartsWith("bash ", run);
        Assert.Equal(PostdeployHookTests.Script, Resolve(run["bash ".Length..]));
        Assert.StartsWith("#!/usr/bin/env bash", File.ReadAllText(PostdeployHookTests.Script));
    }

    [Fact]
    public async Task ThePostdeployCommandRunsUnderAPlainPosixShell()
    {
        if (OperatingSystem.IsWindows()) return;
        // As azd runs an inline "sh" hook: the command in a script of its own, run by /bin/sh from the
        // project's folder. Without azd's environment the hook stops at its first check; that it says so
        // itself (rather than "Bad substitution") shows bash, not /bin/sh, read the script.
        var script = Path.Combine(Path.GetTempPath(), $"dpq-azd-postdeploy-{Guid.NewGuid():N}.sh");
        File.WriteAllText(script, $"#!/bin/sh\nset -e\n\n{PostdeployHook.Scalar("run")}\n");
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = BicepCli.RepoRoot,
            };
            psi.ArgumentList.Add(script);
            foreach (var name in PostdeployHookTests.OutputsTheHookReads.Append("AZURE_SUBSCRIPTION_ID")) psi.Environment.Remove(name);
            using var process = System.Diagnostics.Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            var output = await stdout + await stderr;
            Assert.True(process.ExitCode == 1, output);
            Assert.Contains("azd-postdeploy: error: AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP", output);
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static JsonElement ParametersFile()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(BicepCli.InfraDir, "main.parameters.json")));
        return doc.RootElement.GetProperty("parameters").Clone();
    }

    [Theory]
    [InlineData("environmentName", "${AZURE_ENV_NAME}")]
    [InlineData("location", "${AZURE_LOCATION}")]
    [InlineData("workerExists", "${SERVICE_WORKER_RESOURCE_EXISTS=false}")]
    [InlineData("trainerExists", "${SERVICE_TRAINER_RESOURCE_EXISTS=false}")]
    [InlineData("searchCatalog", "${SEARCH_CATALOG=false}")]
    public void TheParametersFileTakesAParameterFromAzdsEnvironment(string parameter, string value) =>
        Assert.Equal(value, ParametersFile().GetProperty(parameter).GetProperty("value").GetString());

    [Fact]
    public void TheParametersFileGivesEveryRequiredParameterAndNoUnknownOne()
    {
        var declared = CompiledTemplates.Root("main.bicep").GetProperty("parameters").EnumerateObject().ToList();
        var given = ParametersFile().EnumerateObject().Select(p => p.Name).ToList();
        Assert.Subset(declared.Select(p => p.Name).ToHashSet(), given.ToHashSet());
        Assert.Subset(given.ToHashSet(), declared.Where(p => !p.Value.TryGetProperty("defaultValue", out _)).Select(p => p.Name).ToHashSet());
    }

    [Fact]
    public void TheExistsVariablesNameServicesOfAzureYaml()
    {
        // azd sets SERVICE_<NAME>_RESOURCE_EXISTS before it provisions, for each service of azure.yaml.
        var names = ParametersFile().EnumerateObject()
            .Select(p => Regex.Match(p.Value.GetProperty("value").GetString()!, @"^\$\{SERVICE_([A-Z0-9_]+)_RESOURCE_EXISTS=false\}$"))
            .Where(m => m.Success).Select(m => m.Groups[1].Value.ToLowerInvariant()).ToList();
        Assert.Equal(["trainer", "worker"], names.Order());
        Assert.Subset(Services.Keys.ToHashSet(), names.ToHashSet());
    }

    [Fact]
    public void AzdFindsItsRegistryAndTheHookItsNamesInTheOutputs()
    {
        var snapshot = DeploymentSnapshots.Of();
        var registry = snapshot.Single("Microsoft.ContainerRegistry/registries");
        var endpoint = snapshot.Outputs.GetProperty("AZURE_CONTAINER_REGISTRY_ENDPOINT").GetString()!;
        Assert.Matches($@"^\[reference\('{Regex.Escape(registry.GetProperty("id").GetString()!)}', '[^']+'\)\.loginServer\]$", endpoint);
        Assert.Equal(registry.GetProperty("name").GetString(), snapshot.Outputs.GetProperty("AZURE_CONTAINER_REGISTRY_NAME").GetString());
        Assert.Equal(snapshot.Single("Microsoft.App/managedEnvironments").GetProperty("name").GetString(),
            snapshot.Outputs.GetProperty("AZURE_CONTAINER_ENVIRONMENT_NAME").GetString());
        // What the postdeploy hook reads, beside azd's own AZURE_SUBSCRIPTION_ID.
        Assert.Equal(DeploymentSnapshots.ResourceGroup, snapshot.Outputs.GetProperty("AZURE_RESOURCE_GROUP").GetString());
        Assert.Equal(snapshot.Single("Microsoft.EventGrid/systemTopics").GetProperty("name").GetString(),
            snapshot.Outputs.GetProperty("AZURE_EVENTGRID_SYSTEM_TOPIC").GetString());
        var intake = Assert.Single(snapshot.OfType("Microsoft.Web/sites"), r => ServiceTag(r) == "intake");
        Assert.Equal(intake.GetProperty("name").GetString(), snapshot.Outputs.GetProperty("AZURE_INTAKE_FUNCTION_APP_NAME").GetString());
        Assert.Subset(snapshot.Outputs.EnumerateObject().Select(o => o.Name).ToHashSet(),
            PostdeployHookTests.OutputsTheHookReads.ToHashSet());
    }

    [Fact]
    public void TheFirstDeploymentRunsAPlaceholderThatNeedsNoRegistry()
    {
        var snapshot = DeploymentSnapshots.Of();
        var registry = snapshot.Single("Microsoft.ContainerRegistry/registries").GetProperty("name").GetString()!;
        foreach (var resource in new[] { snapshot.WorkerApp, snapshot.TrainerJob })
        {
            var image = Snapshot.Container(resource).GetProperty("image").GetString()!;
            Assert.StartsWith("mcr.microsoft.com/", image); // public: it pulls before azd has pushed anything
            Assert.DoesNotContain(registry, image);
        }
    }

    [Fact]
    public void AProvisioningAfterADeploymentKeepsTheImagesTheResourcesRun()
    {
        var snapshot = DeploymentSnapshots.Of(("workerExists", "true"), ("trainerExists", "true"));
        foreach (var (resource, type) in new[] { (snapshot.WorkerApp, "containerApps"), (snapshot.TrainerJob, "jobs") })
        {
            var image = Snapshot.Container(resource).GetProperty("image").GetString()!;
            var self = Regex.Escape(resource.GetProperty("id").GetString()!);
            Assert.Matches($@"^\[reference\('{self}', '[^']+'\)\.template\.containers\[0\]\.image\]$", image); // what it runs now
            Assert.Contains($"/Microsoft.App/{type}/", resource.GetProperty("id").GetString());
        }
    }

    [Fact]
    public void AnImageGivenByHandIsTheOneThatRuns()
    {
        // The plain `az deployment group create` path, whether or not the resources exist.
        const string Worker = "example.azurecr.io/dpq-worker:7", Trainer = "example.azurecr.io/dpq-trainer:7";
        var snapshot = DeploymentSnapshots.Of(("workerImage", $"'{Worker}'"), ("trainerImage", $"'{Trainer}'"), ("workerExists", "true"));
        Assert.Equal(Worker, Snapshot.Container(snapshot.WorkerApp).GetProperty("image").GetString());
        Assert.Equal(Trainer, Snapshot.Container(snapshot.TrainerJob).GetProperty("image").GetString());
    }

    private static string Resolve(string relative) => Path.GetFullPath(Path.Combine(BicepCli.RepoRoot, relative));
}
