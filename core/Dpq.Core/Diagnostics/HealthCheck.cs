using System.Text.Json.Serialization;
using Dpq.ModelVersions;
using Dpq.Storage;

namespace Dpq.Diagnostics;

public enum HealthStatus { Healthy, Degraded, Unhealthy }

/// <summary>One part's state. <see cref="Detail"/> says what is wrong in a few words, never an exception's text (the answer may be public).</summary>
public sealed record HealthEntry(string Name, [property: JsonConverter(typeof(JsonStringEnumConverter<HealthStatus>))] HealthStatus Status, string Detail);

/// <summary>The worst part's state, and every part's. Healthy and degraded hosts answer 200 (they serve), unhealthy ones 503.</summary>
public sealed record HealthReport([property: JsonConverter(typeof(JsonStringEnumConverter<HealthStatus>))] HealthStatus Status, IReadOnlyList<HealthEntry> Checks)
{
    [JsonIgnore]
    public int HttpStatus => Status == HealthStatus.Unhealthy ? 503 : 200;

    public static HealthReport Of(IReadOnlyList<HealthEntry> checks) =>
        new(checks.Count == 0 ? HealthStatus.Healthy : checks.Max(c => c.Status), checks);
}

/// <summary>
/// What the health endpoints report: whether the data account answers (unhealthy if not: nothing works
/// without it) and whether a model is active and loads (degraded if not: the host runs, but queries and
/// encoding wait). Each probe is bounded by <see cref="Timeout"/>, so a hung storage call cannot hang the probe,
/// and a full report is reused for <see cref="ReuseFor"/>: a public endpoint that anyone may call costs storage
/// calls at most that often.
/// </summary>
public sealed class HealthCheck(StorageClients storage, ModelRegistry registry, ActiveModelCache models, TimeProvider time)
{
    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(5);

    public static TimeSpan ReuseFor { get; } = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _checking = new(1, 1);
    private (HealthReport Report, DateTimeOffset At)? _last;

    /// <summary>Storage only: a worker's readiness, which must not wait for a model download.</summary>
    public async Task<HealthReport> CheckStorageAsync(CancellationToken cancellationToken = default) =>
        HealthReport.Of([await StorageAsync(cancellationToken)]);

    /// <summary>The full report: the last one while it is younger than <see cref="ReuseFor"/>, else one check at a time.</summary>
    public async Task<HealthReport> CheckAsync(CancellationToken cancellationToken = default)
    {
        if (Fresh() is { } fresh) return fresh;
        await _checking.WaitAsync(cancellationToken);
        try
        {
            if (Fresh() is { } checkedMeanwhile) return checkedMeanwhile;
            var report = await CheckNowAsync(cancellationToken);
            _last = (report, time.GetUtcNow());
            return report;
        }
        finally
        {
            _checking.Release();
        }
    }

    private HealthReport? Fresh() => _last is var (report, at) && time.GetUtcNow() - at < ReuseFor ? report : null;

    private async Task<HealthReport> CheckNowAsync(CancellationToken cancellationToken)
    {
        var storageEntry = await StorageAsync(cancellationToken);
        if (storageEntry.Status == HealthStatus.Unhealthy)
            return HealthReport.Of([storageEntry, new HealthEntry("model", HealthStatus.Degraded, "not checked: storage does not answer")]);
        return HealthReport.Of([storageEntry, await ModelAsync(cancellationToken)]);
    }

    private async Task<HealthEntry> StorageAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(Timeout);
        try
        {
            await storage.Container(storage.Names.ModelsContainer).GetPropertiesAsync(cancellationToken: bounded.Token);
            return new HealthEntry("storage", HealthStatus.Healthy, "the data account answers");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthEntry("storage", HealthStatus.Unhealthy, Describe(e));
        }
    }

    private async Task<HealthEntry> ModelAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(Timeout);
        try
        {
            if (await registry.GetActiveAsync(bounded.Token) is not { } active)
                return new HealthEntry("model", HealthStatus.Degraded, "no model is active yet");
            if (models.LastFailure is { } failed && failed.Version == active.Version)
                return new HealthEntry("model", HealthStatus.Degraded, $"model {active.Version} is active but does not load");
            return new HealthEntry("model", HealthStatus.Healthy, $"model {active.Version} is active");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthEntry("model", HealthStatus.Degraded, Describe(e));
        }
    }

    private static string Describe(Exception e) => e switch
    {
        OperationCanceledException => $"no answer within {Timeout.TotalSeconds:0} s",
        Azure.RequestFailedException r => $"storage answered {r.Status}",
        _ => $"storage call failed ({e.GetType().Name})",
    };
}

/// <summary>A health report as an HTTP answer: JSON, never cached (a probe must see the state now).</summary>
public static class HealthAnswer
{
    public static Query.HttpAnswer From(HealthReport report) =>
        new(report.HttpStatus, "application/json", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(report, Query.HttpJson.Default.HealthReport),
            Headers: new Dictionary<string, string> { ["Cache-Control"] = "no-store" });
}
