using System.Text.Json;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>
/// The local stack as ./dpq up runs it, on fresh storage with the tiny model active: WebJobs triggers, the HTTP
/// functions and the search page on Kestrel at 127.0.0.1, and the worker's drain loop.
/// </summary>
public sealed class RunningStack : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;

    public StorageClients Storage { get; }
    /// <summary>The active model's version.</summary>
    public string ModelVersion { get; }
    public string Url { get; }
    public HttpClient Http { get; }

    private RunningStack(StorageClients storage, string modelVersion, WebApplication app, string url)
    {
        Storage = storage;
        ModelVersion = modelVersion;
        _app = app;
        Url = url;
        Http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        var drainer = app.Services.GetRequiredService<EncodeQueueDrainer>();
        _worker = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
                if ((await drainer.DrainOnceAsync(_stop.Token)).Received == 0) await Task.Delay(200, _stop.Token);
        });
    }

    public static async Task<RunningStack> StartAsync()
    {
        var storage = await Azurite.FreshAsync();
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        var version = await registry.PublishAsync(TinyModel.Directory);
        Assert.True(await registry.ActivateAsync(version, null));
        var url = $"http://127.0.0.1:{LoopbackPort.Free()}";
        var settings = new Dictionary<string, string?>(storage.Names.ToSettings())
        {
            ["DpqStorage"] = Azurite.ConnectionString,
            ["urls"] = url,
            ["Models:CacheDirectory"] = TestScratch.NewDirectory("localhost-models"),
            ["Models:RefreshInterval"] = "00:00:00",
            ["Query:IndexRefreshInterval"] = "00:00:00",
            ["Logging:LogLevel:Default"] = "Warning",
            [LocalHost.LocalHost.HostIdSetting] = "dpq-test-" + Guid.NewGuid().ToString("N")[..16],
        };
        var app = LocalHost.LocalHost.Build([], c => c.AddInMemoryCollection(settings));
        await app.StartAsync();
        return new RunningStack(storage, version, app, url);
    }

    /// <summary>Waits until GET /api/index counts <paramref name="expected"/> images (90 s at most).</summary>
    public async Task WaitForIndexedAsync(long expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        long seen = -1;
        while (DateTime.UtcNow < deadline)
        {
            using var status = JsonDocument.Parse(await Http.GetStringAsync("/api/index"));
            seen = status.RootElement.GetProperty("indexedItems").GetInt64();
            if (seen == expected) return;
            await Task.Delay(250);
        }
        var queued = (await Storage.Queue(Storage.Names.EncodeQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount;
        var failures = await new FailureLog(Storage.Table(Storage.Names.FailuresTable)).ListAsync();
        Assert.Fail($"expected {expected} indexed images, saw {seen} after 90 s; {queued} encode messages queued, worker {_worker.Status}, "
            + $"failures: [{string.Join("; ", failures.Select(f => $"{f.BlobName}: {f.Reason}"))}]");
    }

    /// <summary>Waits until the failures table holds a record for <paramref name="blobName"/> (60 s at most).</summary>
    public async Task WaitForFailureAsync(string blobName)
    {
        var failures = new FailureLog(Storage.Table(Storage.Names.FailuresTable));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await failures.FindAsync(blobName) is null)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"no failure was recorded for {blobName} in 60 s");
            await Task.Delay(250);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _worker);
        await _app.StopAsync();
        await _app.DisposeAsync();
        Http.Dispose();
        _stop.Dispose();
    }

}
