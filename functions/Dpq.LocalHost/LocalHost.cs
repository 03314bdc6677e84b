using Dpq.Functions;
using Dpq.Query;
using Dpq.Storage;
using Dpq.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Dpq.LocalHost;

/// <summary>
/// Builds the local stack's host: WebJobs triggers (blob, queue, timer) and the HTTP functions on
/// Kestrel, all over the same core services that the Azure Functions app uses.
/// </summary>
public static class LocalHost
{
    public const string DefaultUrl = "http://127.0.0.1:7071";

    /// <summary>Optional setting: the WebJobs host id (1-32 lowercase letters, digits, dashes).</summary>
    public const string HostIdSetting = "DPQ_LOCAL_HOST_ID";

    private sealed class FixedHostId(string id) : Microsoft.Azure.WebJobs.Host.Executors.IHostIdProvider
    {
        public Task<string> GetHostIdAsync(CancellationToken cancellationToken) => Task.FromResult(id);
    }

    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder.Configuration);
        // The resource names are settings (%DPQ_IMAGES_CONTAINER% in the trigger attributes): fill in
        // the defaults for any that are not set, and let the WebJobs host use our storage connection.
        var names = StorageNames.FromConfiguration(builder.Configuration);
        var defaults = new Dictionary<string, string?>(names.ToSettings())
        {
            ["DPQ_RETRAIN_SCHEDULE"] = builder.Configuration["DPQ_RETRAIN_SCHEDULE"] ?? "0 0 3 * * *",
            ["DPQ_RECONCILE_SCHEDULE"] = builder.Configuration["DPQ_RECONCILE_SCHEDULE"] ?? "*/20 * * * * *",
            ["AzureWebJobsStorage"] = builder.Configuration["AzureWebJobsStorage"] ?? builder.Configuration[StorageConnection.DefaultName],
            // A query host: concurrent queries each take one thread for their forward pass (as in Azure, main.bicep).
            ["Inference:IntraOpThreads"] = builder.Configuration["Inference:IntraOpThreads"] ?? "1",
        };
        builder.Configuration.AddInMemoryCollection(defaults);
        builder.Configuration.AddInMemoryCollection(HostJsonExtensions(Path.Combine(AppContext.BaseDirectory, "host.json")));
        if (builder.Configuration["urls"] is null && builder.Configuration["ASPNETCORE_URLS"] is null)
            builder.WebHost.UseUrls(DefaultUrl);

        builder.Services.AddDpqCore(builder.Configuration).AddDpqQueryHost();
        builder.Services.AddDpqTelemetry(builder.Configuration, "dpq-local");
        builder.Services.AddHostedService<Dpq.Functions.QueryWarmUpService>();
        // Kestrel, the WebJobs triggers and the warm-up start side by side: queries are answered
        // while the trigger listeners are still being set up.
        builder.Services.Configure<HostOptions>(o => (o.ServicesStartConcurrently, o.ServicesStopConcurrently) = (true, true));
        // WebJobs keeps its locks, blob receipts and timer state under the host id. By default that is
        // derived from the entry assembly, so every test host shares one; a test gives its own.
        if (builder.Configuration[HostIdSetting] is { Length: > 0 } hostId)
            builder.Services.AddSingleton<Microsoft.Azure.WebJobs.Host.Executors.IHostIdProvider>(new FixedHostId(hostId));
        builder.Host.ConfigureWebJobs(webJobs =>
        {
            webJobs.AddAzureStorageCoreServices();
            webJobs.AddAzureStorageBlobs();
            webJobs.AddAzureStorageQueues();
            webJobs.AddTimers();
        });

        var app = builder.Build();
        app.MapPost("/api/query", async (Microsoft.AspNetCore.Http.HttpRequest request, QueryHttpHandler handler, CancellationToken ct) =>
            HttpAnswerResult.From(await handler.QueryAsync(request.ContentType, request.Body, k => request.Query[k].FirstOrDefault(), ct)));
        app.MapGet("/api/index", async (QueryHttpHandler handler, CancellationToken ct) =>
            HttpAnswerResult.From(await handler.StatusAsync(ct)));
        app.MapPost("/api/admin/retrain", async (QueryHttpHandler handler, CancellationToken ct) =>
            HttpAnswerResult.From(await handler.RetrainAsync(ct)));
        app.MapGet("/api/search", (Microsoft.AspNetCore.Http.HttpRequest request, Dpq.Web.SearchPage page) =>
            HttpAnswerResult.From(page.Get(request.Headers.IfNoneMatch.FirstOrDefault())));
        app.MapGet("/api/thumbnails", async (Microsoft.AspNetCore.Http.HttpRequest request, Dpq.Web.ThumbnailService thumbnails, CancellationToken ct) =>
            HttpAnswerResult.From(await thumbnails.GetAsync(request.Query["name"].FirstOrDefault(), request.Query["size"].FirstOrDefault(),
                request.Headers.IfNoneMatch.FirstOrDefault(), ct)));
        app.MapGet("/api/failures", async (Microsoft.AspNetCore.Http.HttpRequest request, QueryHttpHandler handler, CancellationToken ct) =>
            HttpAnswerResult.From(await handler.FailuresAsync(request.Query["top"].FirstOrDefault(), ct)));
        app.MapGet("/api/health", async (Dpq.Diagnostics.HealthCheck health, CancellationToken ct) =>
            HttpAnswerResult.From(Dpq.Diagnostics.HealthAnswer.From(await health.CheckAsync(ct))));
        app.MapGet("/api/openapi.json", (Dpq.Web.ApiDocument document) => HttpAnswerResult.From(document.Get()));
        app.MapGet("/", () => Microsoft.AspNetCore.Http.Results.Redirect("/api/search")); // the page is the front door locally
        return app;
    }

    /// <summary>
    /// The "extensions" of the repository's host.json (queue batch size, polling, dequeue count...)
    /// as the WebJobs SDK reads them ("AzureWebJobs:extensions:..."), so one file configures the
    /// triggers in Azure and here alike.
    /// </summary>
    private static IEnumerable<KeyValuePair<string, string?>> HostJsonExtensions(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"host.json not found next to the local host at {path}", path);
        var hostJson = new ConfigurationBuilder().AddJsonFile(path).Build();
        return hostJson.GetSection("extensions").AsEnumerable()
            .Where(kv => kv.Value is not null)
            .Select(kv => new KeyValuePair<string, string?>("AzureWebJobs:" + kv.Key, kv.Value));
    }
}
