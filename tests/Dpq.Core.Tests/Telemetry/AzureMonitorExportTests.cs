using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using Dpq.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Dpq.Core.Tests.Telemetry;

/// <summary>What AddDpqTelemetry sends where: the project's spans and meters reach an ingestion endpoint (a local one here) when a connection string is set.</summary>
public sealed class AzureMonitorExportTests
{
    [Fact]
    public void TheAuthenticationStringNamesTheManagedIdentityThatSignsIn()
    {
        var settings = AzureMonitorSettings.FromConfiguration(Settings(("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=x"),
            ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "ClientId=1234-abcd;Authorization=AAD")))!;
        Assert.True(settings.UseEntraId);
        Assert.Equal("1234-abcd", settings.ClientId);
        Assert.IsType<Azure.Identity.ManagedIdentityCredential>(settings.CreateCredential());

        var keyOnly = AzureMonitorSettings.FromConfiguration(Settings(("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=x")))!;
        Assert.Null(keyOnly.CreateCredential());
        Assert.Null(AzureMonitorSettings.FromConfiguration(Settings()));
        var wrong = Assert.Throws<InvalidOperationException>(() => AzureMonitorSettings.FromConfiguration(Settings(
            ("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=x"), ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "ClientId=1"))));
        Assert.Contains("Authorization=AAD", wrong.Message);
    }

    [Fact]
    public async Task TheProjectsSpansAreExportedToTheConfiguredIngestionEndpoint()
    {
        var port = FreePort();
        using var ingestion = new HttpListener();
        ingestion.Prefixes.Add($"http://127.0.0.1:{port}/");
        ingestion.Start();
        var bodies = new ConcurrentQueue<(string Path, string Body)>();
        var serving = Task.Run(async () =>
        {
            while (ingestion.IsListening)
            {
                HttpListenerContext context;
                try { context = await ingestion.GetContextAsync(); } catch (HttpListenerException) { return; } catch (ObjectDisposedException) { return; }
                Stream body = context.Request.InputStream;
                if (context.Request.Headers["Content-Encoding"] == "gzip") body = new GZipStream(body, CompressionMode.Decompress);
                bodies.Enqueue((context.Request.Url!.AbsolutePath, await new StreamReader(body).ReadToEndAsync()));
                context.Response.StatusCode = 200;
                await context.Response.OutputStream.WriteAsync("{\"itemsReceived\":1,\"itemsAccepted\":1,\"errors\":[]}"u8.ToArray());
                context.Response.Close();
            }
        });

        var services = new ServiceCollection();
        var configuration = Settings(("APPLICATIONINSIGHTS_CONNECTION_STRING",
            $"InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=http://127.0.0.1:{port}/"),
            (TelemetryServiceCollectionExtensions.SamplingRatioSetting, "1"));
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddMetrics();
        services.AddSingleton<DpqMetrics>();
        services.AddDpqTelemetry(configuration, "dpq-test");
        using (var provider = services.BuildServiceProvider())
        {
            var tracing = provider.GetRequiredService<TracerProvider>();
            using (var span = DpqTelemetry.Source.StartActivity("dpq.index.image"))
                span!.SetTag("dpq.blob.name", "shoes/a.png");
            Assert.True(tracing.ForceFlush(10_000));
            var metering = provider.GetRequiredService<OpenTelemetry.Metrics.MeterProvider>();
            provider.GetRequiredService<DpqMetrics>().Outcome(indexed: 7, refused: 0, removed: 0, retried: 0);
            Assert.True(OpenTelemetry.Metrics.MeterProviderExtensions.ForceFlush(metering, 10_000));
        }
        ingestion.Stop();
        await serving;

        var track = bodies.Where(b => b.Path.EndsWith("/track", StringComparison.Ordinal)).Select(b => b.Body).ToList();
        Assert.Contains(track, b => b.Contains("dpq.index.image") && b.Contains("shoes/a.png") && b.Contains("dpq-test"));
        // Each body is one JSON envelope a line; a metric's envelope carries its name and value.
        var metrics = track.SelectMany(b => b.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Select(line => System.Text.Json.Nodes.JsonNode.Parse(line)!)
            .Where(e => e["data"]?["baseData"]?["metrics"] is not null)
            .SelectMany(e => e["data"]!["baseData"]!["metrics"]!.AsArray())
            .Where(m => m!["name"]!.GetValue<string>() == "dpq.images.indexed").ToList();
        Assert.Equal(7, Assert.Single(metrics)!["value"]!.GetValue<double>());
    }

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}


