using System.Diagnostics;

namespace Dpq.Telemetry;

/// <summary>
/// The project's trace source and meter names, and how a trace context rides in a queue message: as a
/// W3C <c>traceparent</c> string, so the upload that queued a request and the worker that stored its code
/// share one trace even across hosts.
/// </summary>
public static class DpqTelemetry
{
    /// <summary>Name of the <see cref="ActivitySource"/> and of the meter; exporters subscribe to it.</summary>
    public const string Name = "Dpq";

    public static ActivitySource Source { get; } = new(Name);

    /// <summary>The current activity's W3C trace parent, or null outside a W3C trace.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>The context <paramref name="traceParent"/> names; default when it is absent or malformed (a message is never refused for it).</summary>
    public static ActivityContext ParentFrom(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out var context) ? context : default;
}
