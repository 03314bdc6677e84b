using Dpq.Functions;
using Dpq.Query;
using Dpq.Storage;
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
            ["AzureWebJobsStorage"] = builder.Configuration["AzureWebJobsStorage"] ?? builder.Configuration[StorageConnection.DefaultName],
        };
        builder.Configuration.AddInMemoryCollection(defaults);
        if (builder.Configuration["urls"] is null && builder.Configuration["ASPNETCORE_URLS"] is null)
            builder.WebHost.UseUrls(DefaultUrl);

        builder.Services.AddDpqCore(builder.Configuration);
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
        return app;
    }
}
