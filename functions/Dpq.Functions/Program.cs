using Dpq;
using Dpq.Telemetry;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddDpqCore(builder.Configuration).AddDpqQueryHost();
// The host runs in OpenTelemetry mode (host.json "telemetryMode"): the worker's invocations, the project's
// spans and meters go to Application Insights with the app's identity.
builder.Services.AddDpqTelemetry(builder.Configuration, builder.Configuration["WEBSITE_SITE_NAME"] ?? "dpq-functions").UseFunctionsWorkerDefaults();
builder.Services.AddHostedService<Dpq.Functions.QueryWarmUpService>();
builder.Build().Run();
