using System.Globalization;
using Dpq.Data;
using Dpq.Evaluation;
using Dpq.ModelFiles;
using Dpq.Onnx;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Dpq.Training;

/// <summary>What a training run reports besides the model folder: the manifest written and the held-out mAP by code length.</summary>
public sealed record ModelTrainingResult(ModelManifest Manifest, SortedDictionary<int, double> HeldOutMap, int HeldOutImages);

/// <summary>
/// One training run from labelled images to a model folder: the network's inputs (gray pixels for small-cnn;
/// for resnet18 the frozen backbone's features, computed once per image set and cached), <see cref="DpqTrainer"/>,
/// the mAP by code length of held-out images against the training images' codes (recorded in model.json as
/// heldout_map_{bits}bits), the folder (<see cref="TorchModel.Save"/>) and its copy codes.
/// </summary>
public static class ModelTraining
{
    /// <param name="side">Input side for small-cnn; resnet18 takes 224x224 colour.</param>
    /// <param name="colour">Whether small-cnn takes colour (three planes) instead of gray.</param>
    /// <param name="copyCodeImages">The images the copy codes train on, gray at their own size (null: none are trained).</param>
    /// <param name="featureProgress">Given a set's image count, where to report the backbone features computed for it.</param>
    public static ModelTrainingResult Run(TrainingSource train, TrainingSource? heldOut, TrainingOptions options, int side, string output,
        FeatureCache cache, Device device, ImageSet? copyCodeImages, IProgress<TrainingProgress>? progress = null, Action<string>? log = null,
        Func<int, IProgress<int>>? featureProgress = null, CancellationToken cancellationToken = default, bool colour = false)
    {
        if (train.Classes < 2) throw new ArgumentException($"training needs images of at least two classes; {train.Dataset} has {train.Classes}");
        var (inputs, heldOutInputs) = Inputs(train, heldOut, options.Backbone, side, colour, cache, log, featureProgress, cancellationToken);
        var created = DateTime.UtcNow;
        var result = DpqTrainer.Train(inputs, options, device, progress, cancellationToken, train.Dataset);
        using var network = result.Network;
        var heldOutMap = new SortedDictionary<int, double>();
        if (heldOutInputs is not null && heldOutInputs.Count > 0)
        {
            heldOutMap = HeldOutMap(network, inputs, heldOutInputs, options, cancellationToken);
            foreach (var (bits, map) in heldOutMap) result.Metrics[ModelManifest.HeldOutMapMetric(bits)] = Math.Round(map, 6);
            result.Metrics["heldout_images"] = heldOutInputs.Count;
            log?.Invoke($"held-out mAP ({heldOutInputs.Count} images against the {inputs.Count} training codes): "
                + string.Join(", ", heldOutMap.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} bits {p.Value:F4}"))));
        }
        var manifest = TorchModel.Save(output, network, result.Quantizer, result.Training, result.Metrics, created, train.ClassNames);
        if (copyCodeImages is not null && copyCodeImages.Count >= Copies.CopyCodec.Codewords)
        {
            var trained = Copies.CopyCodecTrainer.Train(copyCodeImages, manifest.Input, options.Seed, new Progress<string>(m => log?.Invoke(m)), cancellationToken);
            manifest = ModelFolder.AddCopyCodec(output, trained);
        }
        return new ModelTrainingResult(manifest, heldOutMap, heldOutInputs?.Count ?? 0);
    }

    private static (TrainingInputs Train, TrainingInputs? HeldOut) Inputs(TrainingSource train, TrainingSource? heldOut, string backbone, int side, bool colour,
        FeatureCache cache, Action<string>? log, Func<int, IProgress<int>>? featureProgress, CancellationToken cancellationToken)
    {
        if (backbone != ResNet18Graph.Name && colour)
        {
            var shape = new InputShape(3, side, side);
            TrainingInputs Decoded(TrainingSource source) => TrainingInputs.FromPixels(source.Colour(side, cancellationToken), shape, source.Labels, source.Classes, source.ClassNames);
            return (Decoded(train), heldOut is null ? null : Decoded(heldOut));
        }
        if (backbone != ResNet18Graph.Name)
        {
            return (TrainingInputs.FromImages(train.Gray(side, cancellationToken)),
                heldOut is null ? null : TrainingInputs.FromImages(heldOut.Gray(side, cancellationToken)));
        }
        var graph = ResNet18Graph.Backbone(ResNet18Files.Preprocess, ResNet18Files.Network, "0").ToByteArray();
        using var features = new BackboneFeatures(graph, ResNet18Graph.Input, ResNet18Graph.Features);
        TrainingInputs Of(TrainingSource source) => TrainingInputs.FromFeatures(
            cache.GetOrCompute(backbone, source, features, featureProgress?.Invoke(source.Count), log, cancellationToken), ResNet18Graph.Features, source.Labels, source.Classes, source.ClassNames);
        return (Of(train), heldOut is null ? null : Of(heldOut));
    }

    /// <summary>mAP by code length: held-out images as continuous features (queries) against the training images' hard codes (database).</summary>
    private static SortedDictionary<int, double> HeldOutMap(Network.DpqNetwork network, TrainingInputs train, TrainingInputs heldOut, TrainingOptions options,
        CancellationToken cancellationToken)
    {
        var database = train.EncodeAll(options.D, options.M, true, 1000, network.EncodeBatch);
        var queries = heldOut.EncodeAll(options.D, options.M, false, 1000, network.EncodeBatch);
        var data = new EvaluationData("held-out", options.D, options.M, options.K, queries.Features, heldOut.Labels, queries.Predictions,
            database.Features, database.Codes, train.Labels, network.Quantizer.ToCodebooks());
        var report = Evaluator.Run(data, productQuantization: false, cancellationToken: cancellationToken);
        return new SortedDictionary<int, double>(report.Dpq.ToDictionary(p => p.Key, p => p.Value.Map));
    }
}
