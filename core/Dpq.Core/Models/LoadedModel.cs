using Dpq.Ingest;
using Dpq.Model;
using Dpq.Quantization;

namespace Dpq.Models;

/// <summary>
/// A model in memory for serving: the network for encoding images, the codebooks for lookup tables
/// and reconstruction. TorchSharp modules are not documented as safe to call from several threads
/// at once, so forward passes are serialised.
/// </summary>
public sealed class LoadedModel(DpqModel model) : IImageEncoder, IDisposable
{
    private readonly Lock _forward = new();

    public ModelManifest Manifest => model.Manifest;
    public Codebooks Codebooks => model.Codebooks;
    public string ModelVersion => model.Version;
    public int InputWidth => model.Input.Width;
    public int InputHeight => model.Input.Height;
    public int Levels => model.Manifest.M;
    public int Codewords => model.Manifest.K;
    public int FeatureDimension => model.Manifest.D;
    public IReadOnlyList<int> CodeLengths => model.Manifest.CodeLengths;

    public byte[] EncodeCodes(ReadOnlySpan<float> pixels, int count)
    {
        lock (_forward) return model.Encode(pixels, count).Codes;
    }

    public float[] EncodeFeatures(ReadOnlySpan<float> pixels, int count)
    {
        lock (_forward) return model.Encode(pixels, count).Features;
    }

    /// <summary>
    /// Runs one blank image through the network, so that the first query or batch after a load does not
    /// pay for the runtime's first forward pass (measured: the query host's first query took 300-500 ms).
    /// </summary>
    public void WarmUp() => EncodeCodes(new float[model.Input.Pixels], 1);

    public void Dispose() => model.Dispose();
}
