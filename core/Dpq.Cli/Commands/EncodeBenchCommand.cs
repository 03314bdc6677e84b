using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dpq.Data;
using Dpq.Imaging;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Onnx;
using Dpq.Training;

namespace Dpq.Cli;

/// <summary>
/// dpq bench encode --model DIR [--batch 256] [--batches 20] [--queries 2000] [--json FILE]: the
/// compute of encoding, storage excluded, with ONNX Runtime (what serves) and TorchSharp (what
/// served before) side by side in one run: the worker's decode + forward pass + code assignment
/// per batch of PNG images, and one query image's warm encode, alone and from concurrent callers.
/// </summary>
public static class EncodeBenchCommand
{
    private sealed record Row(string Runtime, string Measure, double Value, string Unit, string Note);

    public static Command Create()
    {
        var model = CliOptions.Text("--model", "the model folder", "DIR", required: true);
        var batch = CliOptions.Int("--batch", "images per batch", 256, 1, 4096);
        var batches = CliOptions.Int("--batches", "batches timed", 20, 1);
        var queries = CliOptions.Int("--queries", "single-image encodes timed", 2000, 10);
        var json = CliOptions.Text("--json", "where to write the numbers", "FILE");
        return new Command("encode", "encode compute, storage excluded: ONNX Runtime and TorchSharp side by side")
            .With(model, batch, batches, queries, json)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(model), r.GetValue(batch), r.GetValue(batches), r.GetValue(queries), r.GetValue(json), ct));
    }

    private static async Task<int> RunAsync(string directory, int batch, int batches, int queries, string? jsonPath, CancellationToken cancellationToken)
    {

        var images = FashionMnist.Load(DatasetSplit.Test);
        var pngs = Enumerable.Range(0, batch * 4).Select(i => (ReadOnlyMemory<byte>)ImagePreprocessor.EncodePng(images, i % images.Count)).ToArray();
        using var onnx = EvalCommand.OpenModel(directory);
        using var onnxSingleThread = LoadedModel.Open(directory, new InferenceOptions { IntraOpThreads = 1 });
        if (ModelFiles.ModelFolder.ReadManifest(directory).Backbone == Dpq.Onnx.ResNet18Graph.Name)
            throw new UsageException("a resnet18 model's frozen backbone runs only in ONNX Runtime (TorchSharp holds just the layers trained on its features), so there is no TorchSharp side to compare");
        using var torchModel = TorchModel.Load(directory, TorchSharp.torch.CPU);
        var torch = new TorchEncoder(torchModel);
        var rows = new List<Row>();
        Console.Error.WriteLine($"bench encode: {onnx.ModelVersion}, batches of {batch}, {Environment.ProcessorCount} cores, {BenchCommand.CpuName()}");

        foreach (var (name, encoder) in new (string, IImageEncoder)[] { ("onnxruntime", onnx), ("torchsharp", torch) })
        {
            cancellationToken.ThrowIfCancellationRequested();
            var perSecond = WorkerBatches(encoder, pngs, batch, batches);
            rows.Add(new Row(name, "worker decode+encode+assign", perSecond, "images/s", $"batch {batch}, median of {batches}"));
        }
        var decodeOnly = DecodeOnly(onnx, pngs, batch, batches);
        rows.Add(new Row("skia", "worker decode only", decodeOnly, "images/s", $"batch {batch}, all cores"));
        var batchPixels = new float[batch * onnx.Input.Pixels];
        images.CopyUnitPixels(0, batch, batchPixels);
        float[] batchFeatures = [];
        rows.Add(new Row("onnxruntime", "worker forward pass only", batch / MedianSeconds(() => batchFeatures = onnx.EncodeFeatures(batchPixels, batch), batches), "images/s", $"batch {batch}"));
        rows.Add(new Row("torchsharp", "worker forward pass only", batch / MedianSeconds(() => torchModel.Encode(batchPixels, batch), batches), "images/s", $"batch {batch}, codes included"));
        rows.Add(new Row("codebooks", "worker code assignment only", batch / MedianSeconds(() => onnx.AssignCodes(batchFeatures, batch), batches), "images/s", $"batch {batch}, all cores"));

        var pixels = new float[onnx.Input.Pixels];
        new ImagePreprocessor(onnx.InputWidth, onnx.InputHeight).Decode(pngs[0].Span, pixels);
        foreach (var (name, encode) in new (string, Action)[]
        {
            ("onnxruntime", () => onnx.EncodeFeatures(pixels, 1)),
            ("onnxruntime 1 thread", () => onnxSingleThread.EncodeFeatures(pixels, 1)),
            ("torchsharp", () => torchModel.Encode(pixels, 1)),
        })
        {
            var (p50, p99) = Latency(encode, queries);
            rows.Add(new Row(name, "query forward pass p50", p50, "ms", "one 28x28 image, warm"));
            rows.Add(new Row(name, "query forward pass p99", p99, "ms", "one 28x28 image, warm"));
        }
        var pre = new ImagePreprocessor(onnx.InputWidth, onnx.InputHeight);
        var (decodeP50, _) = Latency(() => pre.Decode(pngs[1].Span, new float[pre.PixelCount]), queries);
        rows.Add(new Row("skia", "query decode p50", decodeP50, "ms", "one PNG to 28x28 pixels"));
        foreach (int callers in new[] { 8, 32 })
        {
            foreach (var (name, model) in new[] { ("onnxruntime", onnx), ("onnxruntime 1 thread", onnxSingleThread) })
                rows.Add(new Row(name, $"query encodes/s, {callers} callers", await Concurrent(() => model.EncodeFeatures(pixels, 1), callers, queries), "encodes/s", "forward passes at once, no lock"));
            var gate = new Lock();
            rows.Add(new Row("torchsharp", $"query encodes/s, {callers} callers", await Concurrent(() => { lock (gate) torchModel.Encode(pixels, 1); }, callers, queries), "encodes/s", "serialised, as the old LoadedModel did"));
        }

        Console.WriteLine($"{"runtime",-22} {"measure",-36} {"value",12} unit");
        foreach (var r in rows) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Runtime,-22} {r.Measure,-36} {r.Value,12:F3} {r.Unit}  ({r.Note})"));
        if (jsonPath is not null)
        {
            var json = new { machine = BenchCommand.Machine(), model = onnx.ModelVersion, batch, batches, queries, provider = onnx.Provider.ToString(), rows };
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }) + "\n", cancellationToken);
        }
        return 0;
    }

    /// <summary>Images per second of <see cref="BatchEncoder.Encode"/>, the median batch of <paramref name="batches"/> after one warm-up.</summary>
    private static double WorkerBatches(IImageEncoder encoder, ReadOnlyMemory<byte>[] pngs, int batch, int batches)
    {
        var slices = Enumerable.Range(0, 4).Select(q => pngs[(q * batch)..((q + 1) * batch)]).ToArray();
        int next = 0;
        return batch / MedianSeconds(() =>
        {
            if (BatchEncoder.Encode(slices[next++ % 4], encoder).Good.Length != batch)
                throw new InvalidOperationException("an image of the benchmark did not decode");
        }, batches);
    }

    /// <summary>The median of <paramref name="runs"/> timed runs after one untimed warm-up run.</summary>
    private static double MedianSeconds(Action action, int runs)
    {
        action();
        var seconds = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        return Median(seconds);
    }

    private static double DecodeOnly(LoadedModel model, ReadOnlyMemory<byte>[] pngs, int batch, int batches)
    {
        var pre = new ImagePreprocessor(model.InputWidth, model.InputHeight);
        var pixels = new float[batch * pre.PixelCount];
        int next = 0;
        return batch / MedianSeconds(() =>
        {
            int offset = next++ % 4 * batch;
            Parallel.For(0, batch, i => pre.Decode(pngs[offset + i].Span, pixels.AsSpan(i * pre.PixelCount, pre.PixelCount)));
        }, batches);
    }

    private static (double P50, double P99) Latency(Action action, int runs)
    {
        for (int i = 0; i < 50; i++) action();
        var ms = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(ms);
        return (ms[runs / 2], ms[(int)(runs * 0.99)]);
    }

    private static async Task<double> Concurrent(Action action, int callers, int total)
    {
        action();
        int remaining = total;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Factory.StartNew(() =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0) action();
        }, TaskCreationOptions.LongRunning)));
        return total / clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    /// <summary>TorchSharp behind the pipeline's encoder interface, for the side-by-side numbers only.</summary>
    private sealed class TorchEncoder(TorchModel model) : IImageEncoder
    {
        public string ModelVersion => model.Version;
        public int InputWidth => model.Manifest.Input.Width;
        public int InputHeight => model.Manifest.Input.Height;
        public int Levels => model.Manifest.M;
        public int Codewords => model.Manifest.K;
        public byte[] EncodeCodes(ReadOnlySpan<float> pixels, int count) => model.Encode(pixels, count).Codes;
    }
}
