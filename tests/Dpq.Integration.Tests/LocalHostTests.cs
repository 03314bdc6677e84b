using Dpq.Indexing;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>
/// The local stack as ./dpq up runs it: WebJobs triggers (the Functions host's engine) polling
/// Azurite, the HTTP functions on Kestrel at 127.0.0.1, and the worker's drain loop.
/// </summary>
public sealed class LocalHostTests
{
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task UploadsSpreadOverTimeAreIndexedAndAnsweredOverHttp()
    {
        var storage = await Azurite.FreshAsync();
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        Assert.True(await registry.ActivateAsync(await registry.PublishAsync(TinyModel.Directory), null));

        var url = $"http://127.0.0.1:{FreePort()}";
        var settings = new Dictionary<string, string?>(storage.Names.ToSettings())
        {
            ["DpqStorage"] = Environment.GetEnvironmentVariable(Azurite.ConnectionVariable),
            ["urls"] = url,
            ["Models:CacheDirectory"] = TestScratch.NewDirectory("localhost-models"),
            ["Models:RefreshInterval"] = "00:00:00",
            ["Query:IndexRefreshInterval"] = "00:00:00",
            ["Logging:LogLevel:Default"] = "Warning",
            [LocalHost.LocalHost.HostIdSetting] = "dpq-test-" + Guid.NewGuid().ToString("N")[..16],
        };
        await using var app = LocalHost.LocalHost.Build([], c => c.AddInMemoryCollection(settings));
        await app.StartAsync();
        using var stop = new CancellationTokenSource();
        var drainer = app.Services.GetRequiredService<EncodeQueueDrainer>();
        var worker = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var r = await drainer.DrainOnceAsync(stop.Token);
                if (r.Received == 0) await Task.Delay(200, stop.Token);
            }
        });
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        var images = storage.Container(storage.Names.ImagesContainer);

        async Task WaitForIndexedAsync(int expected)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            long seen = -1;
            while (DateTime.UtcNow < deadline)
            {
                using var status = JsonDocument.Parse(await http.GetStringAsync("/api/index"));
                seen = status.RootElement.GetProperty("indexedItems").GetInt64();
                if (seen == expected) return;
                await Task.Delay(250);
            }
            var queued = (await storage.Queue(storage.Names.EncodeQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount;
            var failures = await new FailureLog(storage.Table(storage.Names.FailuresTable)).ListAsync();
            Assert.Fail($"expected {expected} indexed images, saw {seen} after 90 s; {queued} encode messages queued, worker {worker.Status}, "
                + $"failures: [{string.Join("; ", failures.Select(f => $"{f.BlobName}: {f.Reason}"))}]");
        }

        try
        {
            // Three waves, the later ones well after the trigger's first sweep of the container.
            for (var wave = 0; wave < 3; wave++)
            {
                for (var i = 0; i < 4; i++) await Images.UploadAsync(images, TinyModel.TestImages, wave * 4 + i);
                await WaitForIndexedAsync((wave + 1) * 4);
                if (wave < 2) await Task.Delay(TimeSpan.FromSeconds(5));
            }

            using var png = new ByteArrayContent(Images.Png(TinyModel.TestImages, 100));
            png.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var answer = await http.PostAsync("/api/query?k=5&bits=16", png);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
            Assert.Equal(5, body.RootElement.GetProperty("results").GetArrayLength());
            Assert.Equal(16, body.RootElement.GetProperty("bits").GetInt32());
            Assert.Equal(12, body.RootElement.GetProperty("indexedItems").GetInt64());

            using var bad = await http.PostAsync("/api/query", new StringContent("{\"k\": \"ten\"}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => worker);
            await app.StopAsync();
        }
    }
}
