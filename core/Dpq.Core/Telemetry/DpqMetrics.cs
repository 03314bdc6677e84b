using System.Diagnostics.Metrics;

namespace Dpq.Telemetry;

/// <summary>
/// The service's measurements, on one meter named <see cref="DpqTelemetry.Name"/>: how long requests wait
/// in the encode queue, batch sizes, encode and scan times, and what became of each image. Made through the
/// host's <see cref="IMeterFactory"/>, so each host (and each test's host) has meters of its own.
/// </summary>
public sealed class DpqMetrics
{
    private readonly Histogram<double> _queueLag;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _encodeTime;
    private readonly Histogram<double> _scanTime;
    private readonly Histogram<double> _queryTime;
    private readonly Counter<long> _indexed;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _removed;
    private readonly Counter<long> _retried;

    public DpqMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(DpqTelemetry.Name);
        _queueLag = meter.CreateHistogram<double>("dpq.encode.queue_lag", "s", "Time from an upload's request being queued to the worker taking it");
        _batchSize = meter.CreateHistogram<int>("dpq.encode.batch_size", "{image}", "Requests the worker carries out together");
        _encodeTime = meter.CreateHistogram<double>("dpq.encode.duration", "s", "Decoding and encoding one batch for one model version");
        _scanTime = meter.CreateHistogram<double>("dpq.query.scan.duration", "ms", "Scanning the index for one query");
        _queryTime = meter.CreateHistogram<double>("dpq.query.duration", "ms", "Answering one query, model and index lookups included");
        _indexed = meter.CreateCounter<long>("dpq.images.indexed", "{image}", "Images whose code was stored");
        _refused = meter.CreateCounter<long>("dpq.images.refused", "{image}", "Images that cannot be indexed (recorded in the failures table or set aside)");
        _removed = meter.CreateCounter<long>("dpq.images.removed", "{image}", "Images taken out of the index");
        _retried = meter.CreateCounter<long>("dpq.encode.retried", "{image}", "Requests left for a later try after storage faults");
    }

    public void QueueLag(TimeSpan lag) => _queueLag.Record(Math.Max(0, lag.TotalSeconds));

    public void Batch(int requests) => _batchSize.Record(requests);

    public void Encoded(TimeSpan elapsed, string modelVersion) =>
        _encodeTime.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("dpq.model.version", modelVersion));

    public void Outcome(int indexed, int refused, int removed, int retried)
    {
        if (indexed > 0) _indexed.Add(indexed);
        if (refused > 0) _refused.Add(refused);
        if (removed > 0) _removed.Add(removed);
        if (retried > 0) _retried.Add(retried);
    }

    public void Query(double totalMs, double scanMs, int bits)
    {
        var tag = new KeyValuePair<string, object?>("dpq.query.bits", bits);
        _queryTime.Record(totalMs, tag);
        _scanTime.Record(scanMs, tag);
    }
}
