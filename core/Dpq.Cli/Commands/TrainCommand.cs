using System.CommandLine;
using System.Globalization;
using Dpq.Data;
using Dpq.Model;
using Dpq.Training;

namespace Dpq.Cli;

/// <summary>
/// dpq train: trains a DPQ model on the 60,000 training images and writes a model folder (docs/model-format.md).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainingOptions();
        var dataset = CliOptions.Text("--dataset", "the training images: fashion-mnist", "NAME", defaultValue: FashionMnist.Name);
        dataset.AcceptOnlyFromAmong(FashionMnist.Name);
        var output = CliOptions.Text("--out", "the model folder to write", "DIR", required: true);
        var epochs = CliOptions.Int("--epochs", "training epochs", defaults.Epochs, 1, 1000);
        var seed = CliOptions.Int("--seed", "random seed (weights, batches, k-means)", defaults.Seed);
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
        var noAugment = CliOptions.Flag("--no-augment", "train without shifted and flipped copies");
        var limit = CliOptions.OptionalInt("--limit", "train on the first N images only", 2);
        var data = CliOptions.Text("--data", "folder of the Fashion-MNIST files", "DIR", defaultValue: FashionMnist.DefaultDirectory);
        return new Command("train", "train a DPQ model and write a model folder (docs/model-format.md)")
            .With(dataset, output, epochs, seed, k, m, d, batch, lr, jointEpochs, quantToEncoder, refineEpochs, codebookLr, codeSemantic, temperature, noAugment, limit, data)
            .Runs((r, ct) =>
            {
                var options = defaults with
                {
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
                return RunAsync(options, r.GetRequiredValue(output), r.GetValue(limit) ?? int.MaxValue, r.GetRequiredValue(data), ct);
            });
    }

    private static Task<int> RunAsync(TrainingOptions options, string output, int limit, string dataDirectory, CancellationToken cancellationToken)
    {
        if (options.JointEpochs > options.Epochs) throw new UsageException($"--joint-epochs ({options.JointEpochs}) cannot exceed --epochs ({options.Epochs})");
        if ((options.K & (options.K - 1)) != 0) throw new UsageException($"--k must be a power of two (got {options.K})");
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        var train = FashionMnist.Load(DatasetSplit.Train, dataDirectory);
        if (limit < train.Count) train = train.Slice(0, limit);
        var device = TorchModel.DefaultDevice();
        Console.WriteLine($"dpq train: {train.Count} images, K={options.K} M={options.M} D={options.D}, {options.Epochs} epochs "
            + $"({options.JointEpochs} joint, then {options.RefineEpochs} codebook passes), seed {options.Seed}, device {device.type}");

        var created = DateTime.UtcNow;
        var result = DpqTrainer.Train(train, options, device, new ConsoleProgress(), cancellationToken);
        using var network = result.Network;
        var manifest = TorchModel.Save(output, network, result.Quantizer, result.Training, result.Metrics, created, train.ClassNames);
        Console.WriteLine($"dpq train: wrote {manifest.Version} to {output} in {result.Training.WallSeconds.ToString("F0", CultureInfo.InvariantCulture)} s "
            + $"(running train accuracy {result.Metrics["train_accuracy_running"]:P1})");
        if (train.Count >= Copies.CopyCodec.Codewords) CopyCodesCommand.Add(output, manifest.Input, train, options.Seed, cancellationToken);
        return Task.FromResult(0);
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
