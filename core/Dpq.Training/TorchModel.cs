using System.Globalization;
using Dpq.Formats;
using Dpq.ModelFiles;
using Dpq.Quantization;
using Dpq.Training.Network;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training;

/// <summary>
/// The training side of a model folder: writes what training produced (weights.dat, the TorchSharp
/// state of the encoder; codebooks.dpqc; feature.onnx, the exported feature network; model.json
/// last, so a folder with a model.json is complete) and loads the TorchSharp network back, for
/// export and for checking the ONNX file against it. Serving never uses this: it opens the ONNX
/// file (<see cref="ModelFiles.LoadedModel"/>). Not thread-safe.
/// </summary>
public sealed class TorchModel : IDisposable
{
    public const string WeightsFileName = "weights.dat";
    public const string CodebooksFileName = "codebooks.dpqc";

    private TorchModel(string directory, ModelManifest manifest, DpqNetwork network, Codebooks codebooks, Device device) =>
        (Directory, Manifest, Network, Codebooks, Device) = (directory, manifest, network, codebooks, device);

    public string Directory { get; }
    public ModelManifest Manifest { get; }
    public Codebooks Codebooks { get; }
    public Device Device { get; }
    public string Version => Manifest.Version;

    /// <summary>The network, owned by this model.</summary>
    public DpqNetwork Network { get; }

    /// <summary>CUDA when TorchSharp reports it, otherwise the CPU.</summary>
    public static Device DefaultDevice() => cuda.is_available() ? CUDA : CPU;

    /// <summary>Loads the TorchSharp network of a folder of either format (weights and codebooks checked against model.json).</summary>
    public static TorchModel Load(string directory, Device? device = null)
    {
        var manifest = ModelFolder.ReadManifest(directory);
        var weightsPath = ModelFolder.VerifiedPath(directory, manifest.Files.Weights);
        var codebooks = ModelFolder.ReadCodebooks(directory, manifest);
        device ??= DefaultDevice();
        var network = new DpqNetwork(DpqNetworkConfig.From(manifest));
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
        return new TorchModel(directory, manifest, network, codebooks, device);
    }

    /// <summary>Encodes count images (count x C x H x W floats in [0, 1]) with TorchSharp.</summary>
    public EncodedBatch Encode(ReadOnlySpan<float> pixels, int count) => Network.EncodeBatch(pixels, count);

    /// <summary>Writes a model folder from a trained network. Returns the manifest written.</summary>
    /// <param name="classNames">The name of each class index (null: their decimal text).</param>
    public static ModelManifest Save(string directory, DpqNetwork network, QuantizerInfo quantizer, TrainingInfo training,
        Dictionary<string, double> metrics, DateTime createdUtc, IReadOnlyList<string>? classNames = null)
    {
        if (classNames is not null && classNames.Count != network.Config.Classes)
            throw new ArgumentException($"{classNames.Count} class names for {network.Config.Classes} classes", nameof(classNames));
        System.IO.Directory.CreateDirectory(directory);
        var config = network.Config;
        network.Encoder.save(Path.Combine(directory, WeightsFileName));
        CodebookFile.WriteFile(Path.Combine(directory, CodebooksFileName), network.Quantizer.ToCodebooks());
        File.WriteAllBytes(Path.Combine(directory, OnnxInfo.FileName), OnnxExport.ToBytes(network));
        var weights = ModelFolder.Describe(directory, WeightsFileName);
        var manifest = new ModelManifest
        {
            Version = MakeVersion(createdUtc, weights.Sha256),
            CreatedUtc = createdUtc,
            K = config.K,
            M = config.M,
            D = config.D,
            Classes = config.Classes,
            ClassNames = classNames,
            Input = Backbones.ImageInput(config.Backbone, config.Input),
            Normalisation = new NormalisationInfo(config.Mean, config.Std),
            Backbone = config.Backbone,
            Quantizer = quantizer,
            Training = training,
            Metrics = metrics,
            Files = new ModelFileSet(weights, ModelFolder.Describe(directory, CodebooksFileName), ModelFolder.Describe(directory, OnnxInfo.FileName)),
            Onnx = config.Backbone == Dpq.Onnx.ResNet18Graph.Name ? OnnxInfo.Default with { Opset = Dpq.Onnx.ResNet18Graph.Opset } : OnnxInfo.Default,
        };
        ModelFolder.WriteManifest(directory, manifest);
        return manifest;
    }

    /// <summary>
    /// Adds (or rewrites) feature.onnx in a folder trained before training exported it, and lists it
    /// in model.json (format 2). The version stays: it names the weights, which do not change.
    /// </summary>
    public static ModelManifest ExportOnnx(string directory)
    {
        using var model = Load(directory, CPU);
        // Through a temporary name: a folder never holds half an ONNX file.
        var path = Path.Combine(directory, OnnxInfo.FileName);
        File.WriteAllBytes(path + ".tmp", OnnxExport.ToBytes(model.Network));
        File.Move(path + ".tmp", path, overwrite: true);
        var manifest = model.Manifest with
        {
            Format = ModelManifest.CurrentFormat,
            Files = model.Manifest.Files with { Onnx = ModelFolder.Describe(directory, OnnxInfo.FileName) },
            Onnx = OnnxInfo.Default,
        };
        ModelFolder.WriteManifest(directory, manifest);
        return manifest;
    }

    /// <summary>m-yyyyMMddHHmmss-(first 8 hex of the weights' SHA-256): sorts by time, only [a-z0-9-].</summary>
    public static string MakeVersion(DateTime createdUtc, string weightsSha256) =>
        $"m-{createdUtc.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}-{weightsSha256[..8].ToLowerInvariant()}";

    public void Dispose() => Network.Dispose();
}
