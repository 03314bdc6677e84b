using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Dpq.Imaging;

namespace Dpq.Onnx;

/// <summary>
/// A frozen backbone graph (<see cref="ResNet18Graph.Backbone"/>) in an ONNX Runtime session: image files
/// to features, decoded as serving decodes them (colour, the graph's input size) and run in batches.
/// Training computes every training image's features once with it; only the layers behind them train.
/// </summary>
public sealed class BackboneFeatures : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ImagePreprocessor _pre;

    public BackboneFeatures(byte[] backboneGraph, ModelFiles.InputShape input, int dimension, int intraOpThreads = 0)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = intraOpThreads };
        _session = new InferenceSession(backboneGraph, options);
        (Input, Dimension) = (input, dimension);
        _pre = new ImagePreprocessor(input.Width, input.Height, channels: input.Channels);
    }

    public ModelFiles.InputShape Input { get; }
    public int Dimension { get; }

    /// <summary>Images per forward pass: as many as a served model's pass holds (<see cref="ModelFiles.LoadedModel.MaxValuesPerPass"/>).</summary>
    public int BatchSize => Math.Max(1, ModelFiles.LoadedModel.MaxValuesPerPass / Input.Pixels);

    /// <summary>
    /// Features of <paramref name="count"/> images, image i being the file <paramref name="file"/>(i): count x
    /// <see cref="Dimension"/> floats. A file that cannot be decoded throws <see cref="ImageRejectedException"/> naming it.
    /// </summary>
    public float[] Compute(int count, Func<int, byte[]> file, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var features = new float[(long)count * Dimension];
        var pixels = new float[BatchSize * _pre.PixelCount];
        progress?.Report(0);
        for (int start = 0; start < count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(BatchSize, count - start);
            Parallel.For(0, n, i =>
            {
                try
                {
                    _pre.Decode(file(start + i), pixels.AsSpan(i * _pre.PixelCount, _pre.PixelCount));
                }
                catch (ImageRejectedException e)
                {
                    throw new ImageRejectedException($"image {start + i}: {e.Reason}");
                }
            });
            var tensor = new DenseTensor<float>(pixels.AsMemory(0, n * _pre.PixelCount), [n, Input.Channels, Input.Height, Input.Width]);
            using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_session.InputMetadata.Keys.Single(), tensor)]);
            var output = results.Single().AsTensor<float>();
            if (output.Length != (long)n * Dimension) throw new InvalidDataException($"the backbone gave {output.Length} values for {n} images of {Dimension}");
            int at = 0;
            foreach (var v in output) features[(long)start * Dimension + at++] = v;
            progress?.Report(start + n);
        }
        return features;
    }

    public void Dispose() => _session.Dispose();
}
