using System.Diagnostics;
using Dpq.Ingest;

namespace Dpq.Telemetry;

/// <summary>
/// The spans of one encode batch: a batch span linked to every upload it serves, and one span per request,
/// a child of the trace its message carried (<see cref="EncodeRequest.TraceParent"/>), open from the moment
/// the worker takes it until it is settled, so an upload's trace ends at its stored code.
/// </summary>
public sealed class IndexTrace : IDisposable
{
    private readonly Activity? _outer = Activity.Current;
    private readonly Activity? _batch;
    private readonly Dictionary<string, Activity> _requests = new(StringComparer.Ordinal);

    private IndexTrace(IReadOnlyList<EncodeRequest> requests)
    {
        var links = requests.Select(r => DpqTelemetry.ParentFrom(r.TraceParent)).Where(c => c != default).Distinct()
            .Select(c => new ActivityLink(c)).ToList();
        _batch = DpqTelemetry.Source.StartActivity("dpq.encode.batch", ActivityKind.Consumer, parentContext: default, links: links);
        _batch?.SetTag("dpq.batch.size", requests.Count);
        foreach (var request in requests)
        {
            // A request without a trace of its own belongs to the batch's.
            var parent = DpqTelemetry.ParentFrom(request.TraceParent) is { TraceId: var id } remote && id != default ? remote : _batch?.Context ?? default;
            var span = DpqTelemetry.Source.StartActivity(SpanName(request), ActivityKind.Consumer, parent,
                links: _batch is null ? null : [new ActivityLink(_batch.Context)]);
            // Starting a span makes it current; the next request's span must not become its child.
            Activity.Current = _batch ?? _outer;
            if (span is null) continue;
            span.SetTag("dpq.blob.name", request.BlobName);
            span.SetTag("dpq.request.id", request.RequestId);
            span.SetTag("dpq.request.attempt", request.Attempt);
            _requests[request.RequestId] = span;
        }
    }

    public static IndexTrace Start(IReadOnlyList<EncodeRequest> requests) => new(requests);

    /// <summary>Ends each request's span with what became of it.</summary>
    public void Settle(BatchOutcome outcome)
    {
        foreach (var r in outcome.Done) End(r.RequestId, "done", ActivityStatusCode.Ok);
        foreach (var r in outcome.Retry) End(r.RequestId, "retry", ActivityStatusCode.Error);
        _batch?.SetTag("dpq.batch.indexed", outcome.Indexed);
        _batch?.SetTag("dpq.batch.failed", outcome.Failed);
    }

    /// <summary>Ends the spans not settled (the batch threw) as errors, then the batch span.</summary>
    public void Dispose()
    {
        foreach (var id in _requests.Keys.ToList()) End(id, "abandoned", ActivityStatusCode.Error);
        _batch?.Dispose();
        Activity.Current = _outer;
    }

    private void End(string requestId, string outcome, ActivityStatusCode status)
    {
        if (!_requests.Remove(requestId, out var span)) return;
        span.SetTag("dpq.outcome", outcome);
        span.SetStatus(status);
        span.Stop();
        Activity.Current = _batch ?? _outer; // Stop makes current whatever was current when the span started
    }

    private static string SpanName(EncodeRequest request) =>
        request.Action == EncodeAction.Remove ? "dpq.remove.image" : "dpq.index.image";
}
