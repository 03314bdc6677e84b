using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Dpq.Formats;
using Dpq.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Model;

/// <summary>
/// The result of <see cref="DpqModel.Encode"/> for Count images: Features is Count x D floats (the
/// continuous query-side feature), Codes is Count x M bytes (one level index per byte, level-major
/// per image), Predictions is the classification head's class per image.
/// </summary>
public sealed record EncodedBatch(int Count, int D, int M, float[] Features, byte[] Codes, byte[] Predictions);

/// <summary>
/// A trained model folder, loaded and verified: model.json, weights.dat (TorchSharp state of the
/// encoder) and codebooks.dpqc (<see cref="CodebookFile"/>). Encodes images to features and codes.
/// Not thread-safe: use one instance per thread or serialise calls to <see cref="Encode"/>.
/// </summary>
public sealed class DpqModel : IDisposable
{
    public const string WeightsFileName = "weights.dat";
    public const string CodebooksFileName = "codebooks.dpqc";

    private readonly DpqNetwork _network;

    private DpqModel(string directory, ModelManifest manifest, DpqNetwork network, Codebooks codebooks, Device device)
    {
        (Directory, Manifest, _network, Codebooks, Device) = (directory, manifest, network, codebooks, device);
    }

    public string Directory { get; }
    public ModelManifest Manifest { get; }
    public Codebooks Codebooks { get; }
    public Device Device { get; }
    public string Version => Manifest.Version;
    public InputShape Input => Manifest.Input;

    /// <summary>The network, for evaluation and tests that need tensors. Owned by this model.</summary>
    public DpqNetwork Network => _network;

    /// <summary>CUDA when TorchSharp reports it, otherwise the CPU.</summary>
    public static Device DefaultDevice() => cuda.is_available() ? CUDA : CPU;

    public static DpqModel Load(string directory, Device? device = null)
    {
        var manifestPath = Path.Combine(directory, ModelManifest.FileName);
        if (!File.Exists(manifestPath))
            throw new FileNotFoundException($"no model at {directory}: {ModelManifest.FileName} is missing (run ./dpq train)", manifestPath);
        ModelManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(manifestPath), ModelManifest.JsonOptions)
                ?? throw new InvalidDataException("empty");
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or NotSupportedException)
        {
            throw new InvalidDataException($"{manifestPath}: not a readable model manifest ({e.Message})", e);
        }
        if (manifest.Format != ModelManifest.CurrentFormat)
            throw new InvalidDataException($"{manifestPath}: format '{manifest.Format}' is not supported (expected {ModelManifest.CurrentFormat})");

        var weightsPath = VerifiedPath(directory, manifest.Files.Weights);
        var codebooksPath = VerifiedPath(directory, manifest.Files.Codebooks);
        var codebooks = CodebookFile.ReadFile(codebooksPath);
        if (codebooks.M != manifest.M || codebooks.K != manifest.K || codebooks.D != manifest.D)
            throw new InvalidDataException($"{codebooksPath}: shape {codebooks.M}x{codebooks.K}x{codebooks.D} does not match model.json ({manifest.M}x{manifest.K}x{manifest.D})");

        device ??= DefaultDevice();
        var network = new DpqNetwork(manifest.ToNetworkConfig());
        try
        {
            network.Encoder.load(weightsPath);
            network.Quantizer.SetCodebooks(codebooks);
            network.Quantizer.SetTemperature(manifest.Quantizer.Temperature, manifest.Quantizer.LevelScales);
            network.to(device);
            network.eval();
        }
        catch (Exception e) when (e is not InvalidDataException)
        {
            network.Dispose();
            throw new InvalidDataException($"{weightsPath}: weights do not fit the network described by model.json ({e.Message})", e);
        }
        return new DpqModel(directory, manifest, network, codebooks, device);
    }

    /// <summary>
    /// Encodes count images given as count x C x H x W floats in [0, 1]: one forward pass, under
    /// eval() and no_grad(). Normalisation is applied here, from model.json.
    /// </summary>
    public EncodedBatch Encode(ReadOnlySpan<float> pixels, int count) => _network.EncodeBatch(pixels, count);

    /// <summary>
    /// Writes a model folder from a trained network: weights.dat, codebooks.dpqc, then model.json
    /// (last, so a folder with a model.json is complete). Returns the manifest written.
    /// </summary>
    public static ModelManifest Save(string directory, DpqNetwork network, QuantizerInfo quantizer, TrainingInfo training,
        Dictionary<string, double> metrics, DateTime createdUtc)
    {
        System.IO.Directory.CreateDirectory(directory);
        var config = network.Config;
        var weightsPath = Path.Combine(directory, WeightsFileName);
        var codebooksPath = Path.Combine(directory, CodebooksFileName);
        network.Encoder.save(weightsPath);
        CodebookFile.WriteFile(codebooksPath, network.Quantizer.ToCodebooks());
        var weights = Describe(directory, WeightsFileName);
        var manifest = new ModelManifest
        {
            Version = MakeVersion(createdUtc, weights.Sha256),
            CreatedUtc = createdUtc,
            K = config.K,
            M = config.M,
            D = config.D,
            Classes = config.Classes,
            Input = config.Input,
            Normalisation = new NormalisationInfo(config.Mean, config.Std),
            Backbone = config.Backbone,
            Quantizer = quantizer,
            Training = training,
            Metrics = metrics,
            Files = new ModelFiles(weights, Describe(directory, CodebooksFileName)),
        };
        File.WriteAllText(Path.Combine(directory, ModelManifest.FileName), JsonSerializer.Serialize(manifest, ModelManifest.JsonOptions) + "\n");
        return manifest;
    }

    /// <summary>m-yyyyMMddHHmmss-(first 8 hex of the weights' SHA-256): sorts by time, only [a-z0-9-].</summary>
    public static string MakeVersion(DateTime createdUtc, string weightsSha256) =>
        $"m-{createdUtc.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}-{weightsSha256[..8].ToLowerInvariant()}";

    public void Dispose() => _network.Dispose();

    private static ModelFile Describe(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        using var stream = File.OpenRead(path);
        return new ModelFile(name, Convert.ToHexStringLower(SHA256.HashData(stream)), stream.Length);
    }

    private static string VerifiedPath(string directory, ModelFile file)
    {
        if (file.Path.Contains('/') || file.Path.Contains('\\') || file.Path is "." or "..")
            throw new InvalidDataException($"model.json names a file outside the folder: '{file.Path}'");
        var path = Path.Combine(directory, file.Path);
        if (!File.Exists(path)) throw new FileNotFoundException($"model at {directory} is incomplete: {file.Path} is missing (run ./dpq train)", path);
        var actual = Describe(directory, file.Path);
        if (!string.Equals(actual.Sha256, file.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path}: content hash {actual.Sha256[..12]}… does not match model.json ({file.Sha256[..Math.Min(12, file.Sha256.Length)]}…): the file was changed or damaged");
        return path;
    }
}
