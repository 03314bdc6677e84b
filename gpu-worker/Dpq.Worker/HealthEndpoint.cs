using System.Net;
using Dpq.Diagnostics;

namespace Dpq.Worker;

/// <summary>
/// The worker's probes on <c>DpqHealth:port</c> (off when unset or 0; the container image sets 8080):
/// <c>/health/live</c> answers 200 while the drain loop keeps beating (<see cref="WorkerHeartbeat"/>), 503
/// once it is stuck, so the platform restarts it; <c>/health/ready</c> answers 200 while the data account
/// answers, 503 while it does not. A storage outage therefore never restarts a worker: it only waits.
/// </summary>
public sealed class HealthEndpoint(IConfiguration configuration, HealthCheck health, WorkerHeartbeat heartbeat, ILogger<HealthEndpoint> logger)
    : BackgroundService
{
    public const string PortSetting = "DpqHealth:port";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var port = configuration.GetValue<int?>(PortSetting) ?? 0;
        if (port == 0) return;
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://+:{port}/health/");
        listener.Start();
        logger.LogInformation("Health probes on port {Port}: /health/live, /health/ready", port);
        using var stop = stoppingToken.Register(listener.Stop);
        var answering = new List<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is HttpListenerException or InvalidOperationException)
            {
                // One broken connection must not stop the host (and with it the encode loop).
                logger.LogWarning(e, "Accepting a health probe failed; the probes go on");
                continue;
            }
            answering.RemoveAll(t => t.IsCompleted);
            answering.Add(AnswerAsync(context, stoppingToken)); // a slow readiness check must not hold up the next probe
        }
        await Task.WhenAll(answering);
    }

    private async Task AnswerAsync(HttpListenerContext context, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = 503; // until an answer is made: a fault below never reads as healthy
        try
        {
            var report = context.Request.Url?.AbsolutePath.TrimEnd('/') switch
            {
                "/health/live" => HealthReport.Of([heartbeat.IsAlive
                    ? new HealthEntry("loop", HealthStatus.Healthy, "the drain loop is running")
                    : new HealthEntry("loop", HealthStatus.Unhealthy, $"no pass finished for {heartbeat.Silence.TotalMinutes:0} min")]),
                "/health/ready" => await health.CheckStorageAsync(cancellationToken),
                _ => null,
            };
            var answer = report is null
                ? Query.HttpProblem.Answer(404, "Not found", "the probes are /health/live and /health/ready")
                : HealthAnswer.From(report);
            context.Response.StatusCode = answer.Status;
            context.Response.ContentType = answer.ContentType;
            context.Response.Headers["Cache-Control"] = "no-store";
            await context.Response.OutputStream.WriteAsync(answer.Body, cancellationToken);
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "A health probe was not answered in full");
        }
        finally
        {
            try { context.Response.Close(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { } // the connection is gone
        }
    }
}
