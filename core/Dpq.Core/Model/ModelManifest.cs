using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dpq.Model;

/// <summary>
/// model.json: everything needed to rebuild and trust a trained model folder. Written by
/// <see cref="DpqModel.Save"/>, read by <see cref="DpqModel.Load"/>; documented in docs/model-format.md.
/// </summary>
public sealed record ModelManifest
{
    public const string FileName = "model.json";
    public const string CurrentFormat = "dpq-model/1";

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
    public required ModelFiles Files { get; init; }

    /// <summary>Code lengths in bits this model offers: log2(K) * m for m = 1..M.</summary>
    [JsonIgnore]
    public IReadOnlyList<int> CodeLengths => [.. Enumerable.Range(1, M).Select(m => m * System.Numerics.BitOperations.Log2((uint)K))];

    public DpqNetworkConfig ToNetworkConfig() =>
        new(Backbone, Input, D, K, M, Classes, Normalisation.Mean, Normalisation.Std);

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

public sealed record ModelFiles(ModelFile Weights, ModelFile Codebooks);
