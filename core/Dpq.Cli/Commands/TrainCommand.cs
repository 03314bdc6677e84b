using Microsoft.Extensions.DependencyInjection;
using System.CommandLine;
using System.Globalization;
using Dpq.Onnx;
using Dpq.Data;
using Dpq.ModelFiles;
using Dpq.Training;

namespace Dpq.Cli;

/// <summary>
/// dpq train: trains a DPQ model on Fashion-MNIST, a folder of class folders or the labelled blobs in storage,
/// and writes a model folder (docs/model-format.md).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainingOptions();
        var dataset = CliOptions.Text("--dataset", "the images to train on when neither --data nor --from-storage is given: fashion-mnist", "NAME", defaultValue: FashionMnist.Name);
        dataset.AcceptOnlyFromAmong(FashionMnist.Name);
        var data = new Option<DirectoryInfo>("--data") { Description = "train on a folder tree of your images: each first subfolder's name is a class", HelpName = "DIR" };
        data.AcceptExistingOnly();
        var fromStorage = CliOptions.Flag("--from-storage", "train on the labelled blobs of the images and imports containers (DpqStorage, else the local Azurite)");
        var backbone = CliOptions.Text("--backbone", "small-cnn: trained from scratch, gray; resnet18: ImageNet ResNet18, frozen, colour 224x224", "NAME", defaultValue: Dpq.Training.Network.SmallCnnBackbone.Name);
        backbone.AcceptOnlyFromAmong(Dpq.Training.Network.SmallCnnBackbone.Name, ResNet18Graph.Name);
        var size = CliOptions.Int("--size", "small-cnn input side in pixels (images are resized to it)", FashionMnist.Side, 8, 512);
        var colour = CliOptions.Flag("--colour", "small-cnn takes colour (R, G and B) instead of gray; resnet18 always does");
        var holdout = CliOptions.Number("--holdout", "share of each class held out of training (--data, --from-storage) to measure mAP on", 0.1);
        var holdoutImages = CliOptions.Int("--holdout-images", "Fashion-MNIST test images the held-out mAP is measured on (0: none)", 2000, 0, 10_000);
        var output = CliOptions.Text("--out", "the model folder to write", "DIR", required: true);
        var epochs = CliOptions.Int("--epochs", "training epochs", defaults.Epochs, 1, 1000);
        var seed = CliOptions.Int("--seed", "random seed (weights, batches, k-means, held-out split)", defaults.Seed);
        var k = CliOptions.Int("--k", "codewords per level (a power of two: 16 or 256 are served)", defaults.K, 2, 256);
        var m = CliOptions.Int("--m", "levels: the longest code has m * log2(k) bits", defaults.M, 1, 64);
        var d = CliOptions.Int("--d", "feature dimension", defaults.D, 1, 4096);
        var batch = CliOptions.Int("--batch", "images per training step", defaults.BatchSize, 2, 65536);
        var lr = CliOptions.Positive("--lr", "learning rate", defaults.LearningRate);
        var jointEpochs = CliOptions.Int("--joint-epochs", "epochs that train the quantizer with the network", defaults.JointEpochs, 0, 1000);
        var quantToEncoder = CliOptions.Number("--quant-to-encoder", "weight of the quantization loss on the encoder", defaults.QuantizationToEncoder);
        var refineEpochs = CliOptions.Int("--refine-epochs", "codebook passes after training", defaults.RefineEpochs, 0, 1000);
        var codebookLr = CliOptions.Positive("--codebook-lr", "codebook learning rate", defaults.CodebookLearningRate);
        var codeSemantic = CliOptions.Number("--code-semantic", "weight of the class loss on the codes", defaults.CodeSemanticWeight);
        var temperature = CliOptions.Positive("--temperature", "soft assignment temperature", defaults.Temperature);
        var noAugment = CliOptions.Flag("--no-augment", "train without shifted and flipped copies (small-cnn)");
        var limit = CliOptions.OptionalInt("--limit", "train on the first N images only", 2);
        var fashionMnist = CliOptions.Text("--fashion-mnist", "folder of the Fashion-MNIST files", "DIR", defaultValue: FashionMnist.DefaultDirectory);
        var cache = CliOptions.Text("--feature-cache", "where backbone features are kept between runs (default: .build/feature-cache)", "DIR");
        return new Command("train", "train a DPQ model and write a model folder (docs/model-format.md)")
            .With(dataset, data, fromStorage, backbone, size, colour, holdout, holdoutImages, output, epochs, seed, k, m, d, batch, lr, jointEpochs, quantToEncoder,
                refineEpochs, codebookLr, codeSemantic, temperature, noAugment, limit, fashionMnist, cache)
            .Runs(async (r, ct) =>
            {
                var options = defaults with
                {
                    Backbone = r.GetRequiredValue(backbone),
                    Epochs = r.GetValue(epochs),
                    Seed = r.GetValue(seed),
                    K = r.GetValue(k),
                    M = r.GetValue(m),
                    D = r.GetValue(d),
                    BatchSize = r.GetValue(batch),
                    LearningRate = r.GetValue(lr),
                    JointEpochs = r.GetValue(jointEpochs),
                    QuantizationToEncoder = r.GetValue(quantToEncoder),
                    RefineEpochs = r.GetValue(refineEpochs),
                    CodebookLearningRate = r.GetValue(codebookLr),
                    CodeSemanticWeight = r.GetValue(codeSemantic),
                    Temperature = r.GetValue(temperature),
                    Augment = !r.GetValue(noAugment),
                };
                try
                {
                var (train, heldOut, copyImages) = await SourcesAsync(r.GetValue(data)?.FullName, r.GetValue(fromStorage), r.GetRequiredValue(fashionMnist),
                    r.GetValue(limit) ?? int.MaxValue, r.GetValue(holdout), r.GetValue(holdoutImages), options.Seed, ct);
                var cacheDirectory = r.GetValue(cache) ?? Path.Combine(Scripts.RepoRootOrCurrent, ".build", "feature-cache");
                return Run(train, heldOut, copyImages, options, r.GetValue(size), r.GetValue(colour), r.GetRequiredValue(output), cacheDirectory, ct);
                }
                catch (Exception e) when (e is InvalidDataException or NotSupportedException or DirectoryNotFoundException or FileNotFoundException)
                {
                    throw new UsageException(e.Message);
                }
            });
    }

    /// <summary>The training images, the held-out ones and the images the copy codes train on (gray, their own size).</summary>
    private static async Task<(TrainingSource Train, TrainingSource? HeldOut, Func<ImageSet> CopyImages)> SourcesAsync(string? folder, bool fromStorage,
        string fashionMnistDirectory, int limit, double holdout, int holdoutImages, int seed, CancellationToken cancellationToken)
    {
        if (folder is not null && fromStorage) throw new UsageException("give --data DIR or --from-storage, not both");
        if (holdout is < 0 or >= 0.9) throw new UsageException($"--holdout must be from 0 to 0.9 (got {holdout})");
        if (folder is null && !fromStorage)
        {
            var set = FashionMnist.Load(DatasetSplit.Train, fashionMnistDirectory);
            if (limit < set.Count) set = set.Slice(0, limit);
            var test = FashionMnist.Load(DatasetSplit.Test, fashionMnistDirectory);
            TrainingSource? held = holdoutImages == 0 ? null : TrainingSource.FromImageSet(FashionMnist.Name + " test", test.Slice(0, Math.Min(holdoutImages, test.Count)));
            return (TrainingSource.FromImageSet(FashionMnist.Name, set), held, () => set);
        }
        LabelledImages images;
        if (folder is not null)
        {
            if (Directory.EnumerateFiles(folder, "*-idx?-ubyte*").Any())
                throw new UsageException($"{folder} holds Fashion-MNIST IDX files: --data takes a folder of class folders of images; give this one as --fashion-mnist {folder}");
            images = LabelledImages.FromFolder(folder, out var refused);
            Console.WriteLine($"dpq train: {images.Count} images of {images.ClassNames.Count} classes in {folder}; {refused.Count} left out");
            foreach (var f in refused.Take(20)) Console.WriteLine($"  left out {Path.GetRelativePath(folder, f.Path)}: {f.Reason}");
            if (refused.Count > 20) Console.WriteLine($"  ... and {refused.Count - 20} more");
        }
        else
        {
            using var services = await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
            (images, var skipped) = await LabelledImages.FromStorageAsync(services.GetRequiredService<Dpq.Storage.StorageClients>(), cancellationToken);
            Console.WriteLine($"dpq train: {images.Count} labelled images of {images.ClassNames.Count} classes in storage; {skipped} blobs without a valid label left out");
        }
        if (limit < images.Count) throw new UsageException("--limit applies to Fashion-MNIST; to train on fewer of your images, train on a folder that holds fewer");
        OwnImageSources sources;
        try
        {
            sources = OwnImageSources.From(images, holdout, seed, out var undecodable, cancellationToken);
            foreach (var (name, reason) in undecodable) Console.WriteLine($"  left out {name}: {reason}");
        }
        catch (InvalidDataException e)
        {
            throw new UsageException(e.Message);
        }
        return (sources.Train, sources.HeldOut, sources.CopyImages);
    }

    private static int Run(TrainingSource train, TrainingSource? heldOut, Func<ImageSet> copyImages, TrainingOptions options, int side, bool colour, string output,
        string cacheDirectory, CancellationToken cancellationToken)
    {
        if (options.JointEpochs > options.Epochs) throw new UsageException($"--joint-epochs ({options.JointEpochs}) cannot exceed --epochs ({options.Epochs})");
        if ((options.K & (options.K - 1)) != 0) throw new UsageException($"--k must be a power of two (got {options.K})");
        if (options.D < train.Classes) options = options with { D = Math.Max(options.D, train.Classes) };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        var device = TorchModel.DefaultDevice();
        Console.WriteLine($"dpq train: {train.Count} images of {train.Classes} classes ({train.Dataset}), backbone {options.Backbone}, K={options.K} M={options.M} D={options.D}, "
            + $"{options.Epochs} epochs ({options.JointEpochs} joint, then {options.RefineEpochs} codebook passes), seed {options.Seed}, device {device.type}");
        IProgress<int> FeatureProgress(int total)
        {
            var bar = new ProgressBar("backbone features", total);
            return new SynchronousProgress<int>(done => bar.Report(done));
        }
        var result = ModelTraining.Run(train, heldOut, options, side, output, new FeatureCache(cacheDirectory), device,
            train.Count >= Copies.CopyCodec.Codewords ? copyImages() : null, new ConsoleProgress(), message => Console.WriteLine($"dpq train: {message}"),
            FeatureProgress, cancellationToken, colour);
        var manifest = result.Manifest;
        Console.WriteLine($"dpq train: wrote {manifest.Version} to {output} in {manifest.Training.WallSeconds.ToString("F0", CultureInfo.InvariantCulture)} s of training "
            + $"(running train accuracy {manifest.Metrics["train_accuracy_running"]:P1})" + (manifest.Copies is null ? "; no copy codes (fewer than 256 images)" : ""));
        return 0;
    }

    /// <summary>A single updating line on a terminal; one plain line per epoch otherwise.</summary>
    private sealed class ConsoleProgress : IProgress<TrainingProgress>
    {
        private readonly bool _interactive = !Console.IsOutputRedirected;

        public void Report(TrainingProgress p)
        {
            bool codebooksOnly = p.Phase == "codebooks";
            var line = codebooksOnly
                ? string.Create(CultureInfo.InvariantCulture, $"codebook pass {p.Epoch}/{p.Epochs} {Bar(p.Batch, p.Batches)} {p.Batch}/{p.Batches} "
                    + $"quant {p.QuantizationLoss:E2} code-sem {p.SemanticLoss:F4} {p.ImagesPerSecond:F0} features/s")
                : string.Create(CultureInfo.InvariantCulture, $"epoch {p.Epoch}/{p.Epochs} {Bar(p.Batch, p.Batches)} {p.Batch}/{p.Batches} [{p.Phase}] "
                    + $"sem {p.SemanticLoss:F4} ce {p.ClassificationLoss:F4} quant {p.QuantizationLoss:E2} acc {p.Accuracy:P1} {p.ImagesPerSecond:F0} img/s");
            if (_interactive)
            {
                int width = Math.Max(40, SafeWindowWidth() - 1);
                Console.Write("\r" + (line.Length > width ? line[..width] : line.PadRight(width)));
                if (p.EpochDone) Console.WriteLine();
            }
            else if (p.EpochDone)
            {
                Console.WriteLine(line);
            }
        }

        private static string Bar(int done, int total)
        {
            const int Width = 20;
            int filled = total > 0 ? done * Width / total : 0;
            return "[" + new string('#', filled) + new string('.', Width - filled) + "]";
        }

        private static int SafeWindowWidth()
        {
            try
            {
                return Console.WindowWidth > 0 ? Console.WindowWidth : 120;
            }
            catch (IOException)
            {
                return 120;
            }
        }
    }
}
