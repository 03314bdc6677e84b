using Dpq.Copies;
using Dpq.Data;
using Dpq.Ingest;
using Dpq.ModelFiles;
using Dpq.Onnx;
using Dpq.Quantization;

namespace Dpq.ModelFiles;

/// <summary>
/// A verified model folder in memory for serving: the ONNX feature network in an ONNX Runtime
/// session, and the codebooks for hard assignment, lookup tables and reconstruction. Thread-safe:
/// concurrent encodes run side by side (no lock).
/// </summary>
public sealed class LoadedModel : IImageEncoder, IDisposable
{
    /// <summary>Batches at least this large assign codes on every core; smaller ones on the calling thread.</summary>
    private const int ParallelAssignment = 64;

    private readonly FeatureNetwork _network;

    private LoadedModel(string directory, ModelManifest manifest, Codebooks codebooks, CopyCodec? copies, FeatureNetwork network) =>
        (Directory, Manifest, Codebooks, Copies, _network) = (directory, manifest, codebooks, copies, network);

    /// <summary>
    /// Opens a model folder: model.json, codebooks and the ONNX file checked against their hashes and
    /// against each other's shapes. Throws <see cref="FileNotFoundException"/> or
    /// <see cref="InvalidDataException"/> naming the file at fault.
    /// </summary>
    public static LoadedModel Open(string directory, InferenceOptions? options = null)
    {
        var manifest = ModelFolder.ReadManifest(directory);
        var onnxPath = ModelFolder.OnnxPath(directory, manifest);
        var codebooks = ModelFolder.ReadCodebooks(directory, manifest);
        var copies = ModelFolder.ReadCopyCodec(directory, manifest);
        var network = FeatureNetwork.Open(onnxPath, manifest.Onnx!, manifest.Input, manifest.D, manifest.Classes, options);
        return new LoadedModel(directory, manifest, codebooks, copies, network);
    }

    /// <summary>Checks that a folder can be served, as <see cref="Open"/> does plus one forward pass, and lets it go.</summary>
    public static void Verify(string directory)
    {
        using var model = Open(directory, new InferenceOptions { PreferGpu = false, IntraOpThreads = 1 });
        model.WarmUp();
    }

    public string Directory { get; }
    public ModelManifest Manifest { get; }
    public Codebooks Codebooks { get; }

    /// <summary>The copy codes; null for a model trained before them (its answers then rank by class alone).</summary>
    public CopyCodec? Copies { get; }
    public string ModelVersion => Manifest.Version;
    public InputShape Input => Manifest.Input;
    public int InputWidth => Manifest.Input.Width;
    public int InputHeight => Manifest.Input.Height;
    public int InputChannels => Manifest.Input.Channels;
    public int Levels => Manifest.M;
    public int Codewords => Manifest.K;
    public int FeatureDimension => Manifest.D;
    public IReadOnlyList<int> CodeLengths => Manifest.CodeLengths;

    /// <summary>Where the forward passes run (CUDA or CPU) and why.</summary>
    public ExecutionProviderChoice Provider => _network.Provider;

    /// <summary>
    /// Input values one forward pass takes at most (32 colour images of 224 x 224): a larger batch runs as several
    /// passes, so the activations of a photo model stay bounded whatever batch the caller hands in.
    /// </summary>
    public const int MaxValuesPerPass = 32 * 3 * 224 * 224;

    /// <summary>Images per forward pass for this model's input.</summary>
    private int PassImages => Math.Max(1, MaxValuesPerPass / Input.Pixels);

    public float[] EncodeFeatures(ReadOnlySpan<float> pixels, int count)
    {
        var features = new float[count * Manifest.D];
        int size = Input.Pixels, d = Manifest.D;
        for (int start = 0; start < count; start += PassImages)
        {
            int n = Math.Min(PassImages, count - start);
            _network.Run(pixels.Slice(start * size, n * size), n, features.AsSpan(start * d, n * d));
        }
        return features;
    }

    /// <summary>One forward pass, then greedy residual assignment by <see cref="Codebooks.EncodeHard"/>.</summary>
    public byte[] EncodeCodes(ReadOnlySpan<float> pixels, int count) => AssignCodes(EncodeFeatures(pixels, count), count);

    /// <summary>Features, codes (when <paramref name="withCodes"/>) and predicted classes of count images.</summary>
    public EncodedBatch Encode(ReadOnlySpan<float> pixels, int count, bool withCodes = true)
    {
        var features = new float[count * Manifest.D];
        var logits = new float[count * Manifest.Classes];
        int size = Input.Pixels, d = Manifest.D, c = Manifest.Classes;
        for (int start = 0; start < count; start += PassImages)
        {
            int n = Math.Min(PassImages, count - start);
            _network.Run(pixels.Slice(start * size, n * size), n, features.AsSpan(start * d, n * d), logits.AsSpan(start * c, n * c));
        }
        var predictions = new byte[count];
        for (int i = 0; i < count; i++) predictions[i] = (byte)ArgMax(logits.AsSpan(i * Manifest.Classes, Manifest.Classes));
        return new EncodedBatch(count, Manifest.D, Manifest.M, features, withCodes ? AssignCodes(features, count) : [], predictions);
    }

    /// <summary><see cref="Encode"/> over a whole grayscale image set, <paramref name="batchSize"/> images per pass.</summary>
    public EncodedBatch EncodeAll(ImageSet images, bool withCodes = true, int batchSize = 256, IProgress<int>? progress = null) =>
        EncodedBatch.EncodeAll(images, Input, Manifest.D, Manifest.M, withCodes, batchSize, Encode, progress);

    /// <summary>count x M codes for count x D features.</summary>
    public byte[] AssignCodes(float[] features, int count)
    {
        int d = Manifest.D, m = Manifest.M;
        if (features.Length != count * d) throw new ArgumentException($"{features.Length} values for {count} features of {d}", nameof(features));
        var codes = new byte[count * m];
        if (count < ParallelAssignment)
        {
            for (int i = 0; i < count; i++) Codebooks.EncodeHard(features.AsSpan(i * d, d), codes.AsSpan(i * m, m));
            return codes;
        }
        Parallel.For(0, count, i => Codebooks.EncodeHard(features.AsSpan(i * d, d), codes.AsSpan(i * m, m)));
        return codes;
    }

    /// <summary>Runs one blank image through the network, so that the first query or batch after a load
    /// does not pay for the runtime's first forward pass; a graph that loads but cannot run fails here.</summary>
    public void WarmUp()
    {
        try
        {
            EncodeCodes(new float[Input.Pixels], 1);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{Path.Combine(Directory, Manifest.Files.Onnx!.Path)}: ONNX Runtime cannot run the graph ({e.Message})", e);
        }
    }

    public void Dispose() => _network.Dispose();

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
