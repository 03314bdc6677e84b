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
    /// Traces, metrics and logs of <paramref name="serviceName"/>; exported to Application Insights when
    /// <see cref="AzureMonitorSettings"/> are set, signed in with the component's managed identity. Returns the
    /// builder so a host can add its own instrumentation (the Functions worker adds its defaults).
    /// </summary>
    /// <summary>
    /// Optional setting: the share of traces kept (0-1), every trace sampled alike. Unset, the exporter's
    /// default applies (a few traces a second), which keeps a million uploads from costing a million traces.
    /// </summary>
    public const string SamplingRatioSetting = "DpqTelemetry:samplingRatio";

    public static IOpenTelemetryBuilder AddDpqTelemetry(this IServiceCollection services, IConfiguration configuration, string serviceName)
    {
        var azure = AzureMonitorSettings.FromConfiguration(configuration);
        var ratio = configuration.GetValue<float?>(SamplingRatioSetting);
        void Configure(AzureMonitorExporterOptions o)
        {
            o.ConnectionString = azure!.ConnectionString;
            o.Credential = azure.CreateCredential();
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
