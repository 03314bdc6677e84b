using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Dpq.Telemetry;

/// <summary>The one place every host turns on OpenTelemetry: the project's spans and meters, and Application Insights when configured.</summary>
public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Optional setting: the share of traces kept (0-1), decided by trace id, so every host keeps or drops a
    /// trace alike. Unset, each host's exporter keeps a few traces a second on its own, which keeps a million
    /// uploads from costing a million traces but can keep one host's part of a trace and not another's.
    /// </summary>
    public const string SamplingRatioSetting = "DpqTelemetry:samplingRatio";

    /// <summary>
    /// Traces, metrics and logs of <paramref name="serviceName"/>; exported to Application Insights when
    /// <see cref="AzureMonitorSettings"/> are set, signed in with the component's managed identity. Returns the
    /// builder so a host can add its own instrumentation (the Functions worker adds its defaults).
    /// </summary>
    public static IOpenTelemetryBuilder AddDpqTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        var azure = AzureMonitorSettings.FromConfiguration(configuration);
        var ratio = configuration.GetValue<float?>(SamplingRatioSetting);
        if (ratio is < 0 or > 1) throw new InvalidOperationException($"{SamplingRatioSetting.Replace(":", "__")} must be from 0 to 1 (got {ratio})");
        var credential = azure?.CreateCredential(); // one for the three exporters: one token cache
        void Configure(AzureMonitorExporterOptions o)
        {
            o.ConnectionString = azure!.ConnectionString;
            o.Credential = credential;
            if (ratio is { } r) (o.SamplingRatio, o.TracesPerSecond) = (r, null);
        }
        var builder = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithTracing(t =>
            {
                t.AddSource(DpqTelemetry.Name);
                if (azure is not null) t.AddAzureMonitorTraceExporter(Configure);
            })
            .WithMetrics(m =>
            {
                m.AddMeter(DpqTelemetry.Name);
                if (azure is not null) m.AddAzureMonitorMetricExporter(Configure);
            })
            .WithLogging(l =>
            {
                if (azure is not null) l.AddAzureMonitorLogExporter(Configure);
            });
        return builder;
    }
}
