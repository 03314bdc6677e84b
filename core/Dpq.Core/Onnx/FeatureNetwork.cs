using Dpq.ModelFiles;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Dpq.Onnx;

/// <summary>How ONNX Runtime sessions run: threads per forward pass and whether to try the GPU.</summary>
public sealed record InferenceOptions
{
    public const string Section = "Inference";

    /// <summary>Threads one forward pass may use; 0 lets ONNX Runtime choose (one per core).</summary>
    [System.ComponentModel.DataAnnotations.Range(0, 1024)]
    public int IntraOpThreads { get; init; }

    /// <summary>Use the CUDA execution provider when the build has it and a GPU answers; the CPU otherwise.</summary>
    public bool PreferGpu { get; init; } = true;

    /// <summary>Let ONNX Runtime's threads spin between passes (its default); off here, see docs/pipeline.md.</summary>
    public bool SpinThreads { get; init; }
}

/// <summary>
/// The trained feature network, exported to ONNX, in an ONNX Runtime session. Safe to call from many
/// threads at once (an InferenceSession is). Inputs and outputs are bound to the caller's memory,
/// so a forward pass copies nothing.
/// </summary>
public sealed class FeatureNetwork : IDisposable
{
    private static readonly OrtMemoryInfo Cpu = OrtMemoryInfo.DefaultInstance;
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _featureOnly;
    private readonly string[] _featureAndLogits;

    private FeatureNetwork(InferenceSession session, OnnxInfo info, InputShape input, int d, int classes, ExecutionProviderChoice provider)
    {
        (_session, Input, D, Classes, Provider) = (session, input, d, classes, provider);
        _inputNames = [info.Input];
        _featureOnly = [info.Feature];
        _featureAndLogits = [info.Feature, info.Logits];
    }

    public InputShape Input { get; }
    public int D { get; }
    public int Classes { get; }

    /// <summary>Which execution provider runs the graph, and why.</summary>
    public ExecutionProviderChoice Provider { get; }

    /// <summary>
    /// Opens <paramref name="path"/> and checks that the graph has the contract's input and outputs
    /// with the shapes model.json gives; any failure is an <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static FeatureNetwork Open(string path, OnnxInfo info, InputShape input, int d, int classes, InferenceOptions? options = null)
    {
        options ??= new InferenceOptions();
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot read the ONNX file ({e.Message})", e);
        }
        var (session, provider) = CreateSession(path, bytes, options);
        try
        {
            if (session.InputMetadata.Count != 1)
                throw new InvalidDataException($"{path}: the graph takes {session.InputMetadata.Count} inputs ({string.Join(", ", session.InputMetadata.Keys)}); a feature network takes one, '{info.Input}'");
            CheckShape(path, session.InputMetadata, info.Input, [-1, input.Channels, input.Height, input.Width]);
            CheckShape(path, session.OutputMetadata, info.Feature, [-1, d]);
            CheckShape(path, session.OutputMetadata, info.Logits, [-1, classes]);
            return new FeatureNetwork(session, info, input, d, classes, provider);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One forward pass for <paramref name="count"/> images (count x C x H x W floats in [0, 1]):
    /// writes count x D features and, when <paramref name="logits"/> is not empty, count x Classes logits.
    /// </summary>
    public unsafe void Run(ReadOnlySpan<float> pixels, int count, Span<float> features, Span<float> logits = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (pixels.Length != count * Input.Pixels)
            throw new ArgumentException($"{pixels.Length} values for {count} images of {Input.Channels}x{Input.Height}x{Input.Width}", nameof(pixels));
        if (features.Length != count * D) throw new ArgumentException($"features must hold {count} x {D} floats", nameof(features));
        bool withLogits = !logits.IsEmpty;
        if (withLogits && logits.Length != count * Classes) throw new ArgumentException($"logits must hold {count} x {Classes} floats", nameof(logits));
        if (count == 0) return;

        fixed (float* p = pixels)
        fixed (float* f = features)
        fixed (float* l = logits)
        {
            using var input = Bind(p, pixels.Length, [count, Input.Channels, Input.Height, Input.Width]);
            using var feature = Bind(f, features.Length, [count, D]);
            using var logit = withLogits ? Bind(l, logits.Length, [count, Classes]) : null;
            using var run = new RunOptions();
            if (withLogits) _session.Run(run, _inputNames, [input], _featureAndLogits, [feature, logit!]);
            else _session.Run(run, _inputNames, [input], _featureOnly, [feature]);
        }
    }

    public void Dispose() => _session.Dispose();

    private static unsafe OrtValue Bind(float* data, int length, long[] shape) =>
        OrtValue.CreateTensorValueWithData(Cpu, TensorElementType.Float, shape, (IntPtr)data, (long)length * sizeof(float));

    private static (InferenceSession, ExecutionProviderChoice) CreateSession(string path, byte[] bytes, InferenceOptions options)
    {
        try
        {
            return ExecutionProviderChoice.Create(options.PreferGpu, OrtEnv.Instance().GetAvailableProviders(),
                () =>
                {
                    using var gpu = NewOptions(options);
                    gpu.AppendExecutionProvider_CUDA(0);
                    return new InferenceSession(bytes, gpu);
                },
                () =>
                {
                    using var cpu = NewOptions(options);
                    return new InferenceSession(bytes, cpu);
                });
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: not a loadable ONNX model ({e.Message})", e);
        }
    }

    private static SessionOptions NewOptions(InferenceOptions options)
    {
        var session = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreads,
        };
        // ONNX Runtime's threads spin after a pass by default; beside .NET's own pool (decoding, scans,
        // code assignment) on few cores that spinning took the cores the other work needed.
        if (!options.SpinThreads) session.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return session;
    }

    private static void CheckShape(string path, IReadOnlyDictionary<string, NodeMetadata> values, string name, int[] expected)
    {
        if (!values.TryGetValue(name, out var meta))
            throw new InvalidDataException($"{path}: the graph has no '{name}' (it has {string.Join(", ", values.Keys)})");
        if (meta.ElementDataType != TensorElementType.Float)
            throw new InvalidDataException($"{path}: '{name}' is {meta.ElementDataType}, expected float32");
        var dims = meta.Dimensions;
        bool fits = dims.Length == expected.Length && dims[0] < 0;
        for (int i = 1; fits && i < dims.Length; i++) fits = dims[i] == expected[i];
        if (!fits)
            throw new InvalidDataException($"{path}: '{name}' has shape [{Format(dims)}], model.json says [{Format(expected)}] (batch symbolic)");
    }

    private static string Format(int[] dims) => string.Join(", ", dims.Select(d => d < 0 ? "batch" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
