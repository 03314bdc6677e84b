using System.Net;
using System.Text.Json;
using Dpq.Diagnostics;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

/// <summary>The health checks on real storage, the worker's probes over HTTP, and the host's /api/health.</summary>
public sealed class HealthTests
{
    [StorageFact]
    public async Task StorageThatAnswersWithoutAModelIsDegradedAndWithOneHealthy()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var none = await p.Get<HealthCheck>().CheckAsync();
        Assert.Equal(HealthStatus.Degraded, none.Status);
        Assert.Equal(200, none.HttpStatus);
        Assert.Contains(none.Checks, c => c is { Name: "model", Status: HealthStatus.Degraded });

        var version = await p.Registry.PublishAsync(TinyModel.Directory);
        await p.Get<VersionSwitch>().ActivatePublishedAsync(version);
        var report = await p.Get<HealthCheck>().CheckAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Contains(version, report.Checks.Single(c => c.Name == "model").Detail);
    }

    [StorageFact]
    public async Task StorageThatDoesNotAnswerIsUnhealthyWithinTheProbeTimeout()
    {
        var down = new StorageClients(StorageConnection.FromConnectionString(DeadAccount()), StorageNames.WithPrefix("down"),
            retry: StorageRetry.Default with { MaxRetries = 0, NetworkTimeout = TimeSpan.FromSeconds(2) });
        using var p = await Pipeline.CreateAsync(withModel: false);
        var check = new HealthCheck(down, new ModelRegistry(down.Container(down.Names.ModelsContainer)), p.Models);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var report = await check.CheckAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Equal(503, report.HttpStatus);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, HealthCheck.Timeout * 3);
        Assert.DoesNotContain("127.0.0.1", JsonSerializer.Serialize(report)); // nothing of the account leaks
    }

    [StorageFact]
    public async Task TheWorkersLivenessFollowsItsLoopAndReadinessItsStorage()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var clock = new AheadClock(TimeSpan.Zero);
        var heartbeat = new WorkerHeartbeat(clock);
        var port = LoopbackPort.Free();
        var settings = new ConfigurationBuilder().AddInMemoryCollection([new(Dpq.Worker.HealthEndpoint.PortSetting, port.ToString())]).Build();
        using var endpoint = new Dpq.Worker.HealthEndpoint(settings, p.Get<HealthCheck>(), heartbeat, NullLogger<Dpq.Worker.HealthEndpoint>.Instance);
        await endpoint.StartAsync(CancellationToken.None);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            var live = await GetAsync(http, "/health/live");
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/health/ready")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(http, "/health/other")).StatusCode);

            clock.Ahead = WorkerHeartbeat.MaxSilence + TimeSpan.FromMinutes(1); // the loop stopped beating
            var stuck = await GetAsync(http, "/health/live");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, stuck.StatusCode);
            Assert.Contains("Unhealthy", await stuck.Content.ReadAsStringAsync());
            heartbeat.Beat();
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/health/live")).StatusCode);
        }
        finally
        {
            await endpoint.StopAsync(CancellationToken.None);
        }
    }

    [StorageFact]
    public async Task TheHostAnswersApiHealthWithoutAKey()
    {
        await using var stack = await RunningStack.StartAsync();
        var answer = await stack.Http.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("no-store", answer.Headers.CacheControl?.ToString());
        using var doc = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal(["storage", "model"], doc.RootElement.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient http, string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return await http.GetAsync(path); }
            catch (HttpRequestException) when (attempt < 20) { await Task.Delay(100); } // the listener is still starting
        }
    }

    private static string DeadAccount()
    {
        var port = LoopbackPort.Free(); // nothing listens there
        return $"DefaultEndpointsProtocol=http;AccountName={Azurite.AccountName};AccountKey={Azurite.AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{port}/{Azurite.AccountName};QueueEndpoint=http://127.0.0.1:{port}/{Azurite.AccountName};TableEndpoint=http://127.0.0.1:{port}/{Azurite.AccountName};";
    }

}
