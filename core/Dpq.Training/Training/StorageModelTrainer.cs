using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Dpq.Data;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Training;

/// <summary>What a retraining job trains. Bound from configuration section "Retraining"; the defaults are the documented default model.</summary>
public sealed record RetrainingOptions
{
    public const string Section = "Retraining";

    public string Backbone { get; init; } = Network.SmallCnnBackbone.Name;
    [Range(1, 1000)] public int Epochs { get; init; } = new TrainingOptions().Epochs;
    [Range(1, 1000)] public int RefineEpochs { get; init; } = new TrainingOptions().RefineEpochs;
    /// <summary>Input side of small-cnn.</summary>
    [Range(8, 512)] public int Size { get; init; } = FashionMnist.Side;
    /// <summary>Whether small-cnn takes colour.</summary>
    public bool Colour { get; init; }
    /// <summary>Share of each class held out of training to measure mAP on.</summary>
    [Range(0.0, 0.9)] public double Holdout { get; init; } = 0.1;
    /// <summary>Where backbone features are kept between runs (resnet18).</summary>
    public string FeatureCache { get; init; } = Path.Combine(Path.GetTempPath(), "dpq-feature-cache");
}

/// <summary>
/// The worker's <see cref="IModelTrainer"/>: the labelled images of the images and imports containers
/// (<see cref="LabelledImages.FromStorageAsync"/>), those that do not decode left out, a stratified held-out
/// split, one <see cref="ModelTraining.Run"/> on the CPU or the GPU TorchSharp finds.
/// </summary>
public sealed class StorageModelTrainer(StorageClients storage, RetrainingOptions options, ILogger<StorageModelTrainer> logger) : IModelTrainer
{
    public async Task<string> TrainAsync(string outputDirectory, int seed, IProgress<string> progress, CancellationToken cancellationToken)
    {
        progress.Report("reading the labelled images in storage");
        var (images, skipped) = await LabelledImages.FromStorageAsync(storage, cancellationToken);
        logger.LogInformation("Retraining on {Images} labelled images of {Classes} classes; {Skipped} blobs without a valid label left out", images.Count, images.ClassNames.Count, skipped);
        var sources = OwnImageSources.From(images, options.Holdout, seed, out var undecodable, cancellationToken);
        foreach (var (name, reason) in undecodable) logger.LogWarning("Left out of training: {BlobName}: {Reason}", name, reason);
        var training = new TrainingOptions { Backbone = options.Backbone, Epochs = options.Epochs, RefineEpochs = options.RefineEpochs, Seed = seed };
        if (training.D < sources.Train.Classes) training = training with { D = sources.Train.Classes };
        training.Validate();
        var trainProgress = new Progress<TrainingProgress>(p => progress.Report(string.Create(CultureInfo.InvariantCulture,
            $"{p.Phase} epoch {p.Epoch}/{p.Epochs}, batch {p.Batch}/{p.Batches}, accuracy {p.Accuracy:P1}")));
        // Training is CPU-bound and synchronous: off the caller's thread, so the job's lease keeps being renewed.
        var result = await Task.Run(() => ModelTraining.Run(sources.Train, sources.HeldOut, training, options.Size, outputDirectory,
            new FeatureCache(options.FeatureCache), TorchModel.DefaultDevice(), sources.Train.Count >= Copies.CopyCodec.Codewords ? sources.CopyImages() : null,
            trainProgress, message => logger.LogInformation("Retraining: {Message}", message), null, cancellationToken, options.Colour), cancellationToken);
        logger.LogInformation("Retraining wrote {ModelVersion}: held-out mAP {Map}", result.Manifest.Version,
            string.Join(", ", result.HeldOutMap.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} bits {kv.Value:F4}"))));
        return outputDirectory;
    }
}
