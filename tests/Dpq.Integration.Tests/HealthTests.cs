using System.Net;
using System.Net.Sockets;
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
        var clock = new AheadClock(TimeSpan.Zero);
        var health = new HealthCheck(p.Storage, p.Registry, p.Models, clock);
        var none = await health.CheckAsync();
        Assert.Equal(HealthStatus.Degraded, none.Status);
        Assert.Equal(200, none.HttpStatus);
        Assert.Contains(none.Checks, c => c is { Name: "model", Status: HealthStatus.Degraded });

        var version = await p.Registry.PublishAsync(TinyModel.Directory);
        await p.Get<VersionSwitch>().ActivatePublishedAsync(version);
        Assert.Same(none, await health.CheckAsync()); // reused while fresh: a public probe costs storage calls at most every ReuseFor
        clock.Ahead = HealthCheck.ReuseFor;
        var report = await health.CheckAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Contains(version, report.Checks.Single(c => c.Name == "model").Detail);
    }

    [StorageFact]
    public async Task StorageThatRefusesConnectionsIsUnhealthyAndNothingOfTheAccountLeaks()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var report = await CheckAgainstAsync(DeadAccount(LoopbackPort.Free()), p.Models); // nothing listens there
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Equal(503, report.HttpStatus);
        Assert.DoesNotContain("127.0.0.1", JsonSerializer.Serialize(report));
        Assert.DoesNotContain("devstoreaccount1", JsonSerializer.Serialize(report));
    }

    [StorageFact]
    public async Task StorageThatNeverAnswersIsUnhealthyOnceTheProbeTimeoutPasses()
    {
        // Accepts connections and never answers: only the probe's own timeout ends the check.
        using var hung = new TcpListener(IPAddress.Loopback, 0);
        hung.Start();
        var accepted = new List<TcpClient>();
        var accepting = Task.Run(async () => { try { while (true) accepted.Add(await hung.AcceptTcpClientAsync()); } catch (Exception) { } });
        using var p = await Pipeline.CreateAsync(withModel: false);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var report = await CheckAgainstAsync(DeadAccount(((IPEndPoint)hung.LocalEndpoint).Port), p.Models);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("no answer within", report.Checks.Single(c => c.Name == "storage").Detail);
        Assert.InRange(clock.Elapsed, HealthCheck.Timeout * 0.9, HealthCheck.Timeout * 3);
        hung.Stop();
        foreach (var c in accepted) c.Dispose();
    }

    private static Task<HealthReport> CheckAgainstAsync(string connectionString, ActiveModelCache models)
    {
        // Retries long past the probe's timeout: the probe must not wait for them.
        var down = new StorageClients(StorageConnection.FromConnectionString(connectionString), StorageNames.WithPrefix("down"),
            retry: StorageRetry.Default with { MaxRetries = 5, NetworkTimeout = TimeSpan.FromSeconds(60) });
        return new HealthCheck(down, new ModelRegistry(down.Container(down.Names.ModelsContainer)), models, TimeProvider.System).CheckAsync();
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

    private static string DeadAccount(int port) =>
        $"DefaultEndpointsProtocol=http;AccountName={Azurite.AccountName};AccountKey={Azurite.AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{port}/{Azurite.AccountName};QueueEndpoint=http://127.0.0.1:{port}/{Azurite.AccountName};TableEndpoint=http://127.0.0.1:{port}/{Azurite.AccountName};";
}
