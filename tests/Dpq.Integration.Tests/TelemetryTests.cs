using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Dpq.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>Spans from an upload to its stored code, and the meters of the encode and query paths, on the real pipeline.</summary>
public sealed class TelemetryTests
{
    private const string UploadSource = "Dpq.Integration.Tests.Upload";
    private static readonly ActivitySource s_test = new(UploadSource);

    [StorageFact]
    public async Task AnUploadsTraceContextTravelsInItsMessageToTheSpanThatEndsAtItsStoredCode()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is DpqTelemetry.Name or UploadSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var p = await Pipeline.CreateAsync(withModel: true);

        ActivityTraceId upload;
        using (var root = s_test.StartActivity("upload")!)
        {
            upload = root.TraceId;
            await p.IngestAsync([3]);
        }
        var message = (await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync(1)).Value.Single();
        var request = Ingest.EncodeMessage.Parse(message.Body.ToString()).Single();
        Assert.Equal(upload, DpqTelemetry.ParentFrom(request.TraceParent).TraceId);

        Assert.Equal(1, (await p.DrainAllAsync()).Indexed);
        var indexSpan = Assert.Single(spans, s => s.OperationName == "dpq.index.image" && s.TraceId == upload);
        Assert.Equal("done", indexSpan.GetTagItem("dpq.outcome"));
        Assert.Equal(Images.Name(3), indexSpan.GetTagItem("dpq.blob.name"));
        Assert.Contains(spans, s => s.OperationName == "dpq.intake.upload" && s.TraceId == upload);
        // The batch span is its own trace, linked to every upload it served.
        var batch = Assert.Single(spans, s => s.OperationName == "dpq.encode.batch" && s.Links.Any(l => l.Context.TraceId == upload));
        Assert.NotEqual(upload, batch.TraceId);
        Assert.Single(await p.CodeRowsAsync());
    }

    [StorageFact]
    public async Task RequestsWithoutATraceOfTheirOwnAreChildrenOfTheBatchNotOfEachOther()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == DpqTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        var requests = new List<Ingest.EncodeRequest>();
        foreach (var i in new[] { 4, 5, 6 })
        {
            await Images.UploadAsync(images, TinyModel.TestImages, i);
            var blob = (await images.GetBlobClient(Images.Name(i)).GetPropertiesAsync()).Value;
            requests.Add(Ingest.EncodeRequest.For(Images.Name(i), blob.ETag.ToString(), blob.ContentLength, DateTimeOffset.UtcNow)); // as a bulk import without a trace sends them
        }
        Assert.All(requests, r => Assert.Null(r.TraceParent));
        await p.Storage.Queue(p.Storage.Names.EncodeQueue).SendMessageAsync(Ingest.EncodeMessage.Pack(requests));

        Assert.Equal(3, (await p.DrainAllAsync()).Indexed);
        var names = requests.Select(r => r.BlobName).ToHashSet();
        var mine = spans.Where(s => s.OperationName == "dpq.index.image" && names.Contains((string)s.GetTagItem("dpq.blob.name")!)).ToList();
        Assert.Equal(3, mine.Count);
        var batch = Assert.Single(spans, s => s.OperationName == "dpq.encode.batch" && mine.Any(m => m.ParentSpanId == s.SpanId));
        Assert.All(mine, m => Assert.Equal(batch.SpanId, m.ParentSpanId));
        Assert.All(mine, m => Assert.Equal(batch.TraceId, m.TraceId));
    }

    [StorageFact]
    public async Task TheMetersCountIndexedAndRefusedImagesBatchesQueueLagAndScanTime()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var meters = p.Get<IMeterFactory>();
        var measured = new ConcurrentDictionary<string, List<double>>();
        using var listener = new MeterListener
        {
            // Only this pipeline's meters: other tests run their own pipelines at the same time.
            InstrumentPublished = (instrument, l) => { if (instrument.Meter.Scope == meters) l.EnableMeasurementEvents(instrument); },
        };
        void Record(Instrument i, double v) { var list = measured.GetOrAdd(i.Name, _ => []); lock (list) list.Add(v); }
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => Record(i, v));
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => Record(i, v));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => Record(i, v));
        listener.Start();

        await p.IngestAsync([1, 2, 3]);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, "bad/corrupt.png", [.. Images.Png(TinyModel.TestImages, 4)[..30], 1, 2, 3], null);
        await p.Intake.HandleBlobAsync(images.GetBlobClient("bad/corrupt.png"));
        var drained = await p.DrainAllAsync();
        await p.Queries.QueryAsync(new Query.QueryRequest(Images.Png(TinyModel.TestImages, 1), null, null, 3, null, null));

        Assert.Equal(drained.Indexed, measured["dpq.images.indexed"].Sum());
        Assert.Equal(3, measured["dpq.images.indexed"].Sum());
        Assert.Equal(1, measured["dpq.images.refused"].Sum());
        Assert.Equal(4, measured["dpq.encode.batch_size"].Sum());
        Assert.Equal(4, measured["dpq.encode.queue_lag"].Count);
        Assert.All(measured["dpq.encode.queue_lag"], lag => Assert.InRange(lag, 0, 600));
        Assert.NotEmpty(measured["dpq.encode.duration"]);
        Assert.Single(measured["dpq.query.scan.duration"]);
        Assert.Single(measured["dpq.query.duration"]);
    }
}
