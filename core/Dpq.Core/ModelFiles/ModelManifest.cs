using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dpq.ModelFiles;

/// <summary>The shape of one input image: channels x height x width.</summary>
public sealed record InputShape(int Channels, int Height, int Width)
{
    [JsonIgnore]
    public int Pixels => Channels * Height * Width;
}

/// <summary>
/// model.json: everything needed to rebuild and trust a trained model folder. Written by training
/// (Dpq.Training's TorchModel), read and verified by <see cref="ModelFolder"/>; documented in
/// docs/model-format.md. Format 2 lists the ONNX feature network that serving runs; format 1
/// folders (trained before it) lack it until ./dpq export-onnx adds it.
/// </summary>
public sealed record ModelManifest
{
    public const string FileName = "model.json";
    public const string CurrentFormat = "dpq-model/2";
    public const string FormatWithoutOnnx = "dpq-model/1";

    public string Format { get; init; } = CurrentFormat;

    /// <summary>Stable id for storage keys: m-yyyyMMddHHmmss-(first 8 hex of the weights' SHA-256); only [a-z0-9-].</summary>
    public required string Version { get; init; }
    public required DateTime CreatedUtc { get; init; }
    public required int K { get; init; }
    public required int M { get; init; }
    public required int D { get; init; }
    public required int Classes { get; init; }
    public required InputShape Input { get; init; }
    public required NormalisationInfo Normalisation { get; init; }
    public required string Backbone { get; init; }
    public required QuantizerInfo Quantizer { get; init; }
    public required TrainingInfo Training { get; init; }
    public required Dictionary<string, double> Metrics { get; init; }

    /// <summary>The metric that holds the held-out mAP at <paramref name="bits"/> bits.</summary>
    public static string HeldOutMapMetric(int bits) => $"heldout_map_{bits}bits";

    /// <summary>The held-out mAP by code length, from <see cref="Metrics"/> (empty when the model was not measured on held-out images).</summary>
    public SortedDictionary<int, double> HeldOutMap() =>
        new(CodeLengths.Where(b => Metrics.ContainsKey(HeldOutMapMetric(b))).ToDictionary(b => b, b => Metrics[HeldOutMapMetric(b)]));
    public required ModelFileSet Files { get; init; }

    /// <summary>The ONNX file's contract (names, layout, opset); null in format 1.</summary>
    public OnnxInfo? Onnx { get; init; }

    /// <summary>
    /// The name of each class index the model was trained on (what its training images' labels said); null in
    /// models trained before class names, whose classes are named by their index's decimal text (<see cref="ClassNameList"/>).
    /// </summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary><see cref="ClassNames"/>, or for older models the decimal text of each class index.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> ClassNameList => ClassNames ?? [.. Enumerable.Range(0, Classes).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The copy codes (files.copies) that rank copies of a query image first; null in models trained before them.</summary>
    public CopyInfo? Copies { get; init; }

    /// <summary>Code lengths in bits this model offers: log2(K) * m for m = 1..M.</summary>
    [JsonIgnore]
    public IReadOnlyList<int> CodeLengths => [.. Enumerable.Range(1, M).Select(m => m * System.Numerics.BitOperations.Log2((uint)K))];

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };
}

/// <summary>pixel' = (pixel / 255 - Mean) / Std, one value for all channels.</summary>
public sealed record NormalisationInfo(float Mean, float Std);

/// <summary>Soft assignment settings: softmax(-||r - c||^2 / (Temperature * LevelScales[l])).</summary>
public sealed record QuantizerInfo(string Similarity, double Temperature, double[] LevelScales);

public sealed record TrainingInfo(
    string Dataset, int TrainImages, int Epochs, int Seed, int BatchSize, double LearningRate,
    int JointEpochs, double QuantizationToEncoder, int RefineEpochs, double CodebookLearningRate, double CodeSemanticWeight,
    double ClassificationWeight, bool Augment, string Device, double WallSeconds);

/// <summary>A file of the model folder and the SHA-256 of its bytes (lower-case hex).</summary>
public sealed record ModelFile(string Path, string Sha256, long Bytes);

/// <summary>Weights: TorchSharp state for training and export; Onnx: the feature network that serving runs (format 2);
/// Copies: the copy codes' codebooks (optional).</summary>
public sealed record ModelFileSet(ModelFile Weights, ModelFile Codebooks, ModelFile? Onnx = null, ModelFile? Copies = null);

/// <summary>
/// The copy codes' settings (Dpq.Copies.CopyCodec): the fingerprint, the cross byte's values, the squared
/// distances that bound and group the near-duplicates that lead an answer, how many scan candidates are re-ranked, and the calibration
/// that chose the distance.
/// </summary>
public sealed record CopyInfo(string Fingerprint, float[] CrossTerms, float CopyDistance, float TypicalCopyDistance, float DuplicateRatio, int RerankCandidates,
    Copies.CopyCalibration Calibration)
{
    public const string FileName = "copies.dpqc";
    public const string FingerprintName = "centroid-aligned 28x28 gray, 4x4 cell means (49 values)";
}

/// <summary>
/// The ONNX feature network's contract: input <see cref="Input"/> is batch x C x H x W float32
/// pixels in [0, 1] (normalisation is inside the graph), with a symbolic batch dimension;
/// outputs <see cref="Feature"/> (batch x D, the tanh feature) and <see cref="Logits"/>
/// (batch x Classes, the classification head).
/// </summary>
public sealed record OnnxInfo(int Opset, string Input, string Feature, string Logits, string Layout)
{
    public const string FileName = "feature.onnx";
    public const int OpsetVersion = 17;

    public static OnnxInfo Default { get; } = new(OpsetVersion, "pixels", "feature", "logits", "NCHW float32, pixels in [0, 1], batch dimension symbolic");
}
