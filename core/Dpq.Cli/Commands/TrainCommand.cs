using System.Globalization;
using Dpq.Data;
using Dpq.Model;
using Dpq.Training;

namespace Dpq.Cli;

/// <summary>
/// dpq train --dataset fashion-mnist --out DIR [--epochs N] [--seed S] [tuning options]: trains a
/// DPQ model on the 60,000 training images and writes a model folder (docs/model-format.md).
/// </summary>
public static class TrainCommand
{
    private const string Usage = "usage: dpq train --dataset fashion-mnist --out DIR [--epochs N] [--seed S] [--k K] [--m M] [--d D] "
        + "[--batch N] [--lr X] [--joint-epochs N] [--quant-to-encoder X] [--refine-epochs N] [--codebook-lr X] "
        + "[--code-semantic X] [--temperature X] [--no-augment] [--limit N] [--data DIR]";

    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var o = new Options(args);
        var defaults = new TrainingOptions();
        string dataset = o.Required("dataset");
        string output = o.Required("out");
        int epochs = o.Int("epochs", defaults.Epochs, 1, 1000);
        var options = defaults with
        {
            Epochs = epochs,
            Seed = o.Int("seed", defaults.Seed),
            K = o.Int("k", defaults.K, 2, 256),
            M = o.Int("m", defaults.M, 1, 64),
            D = o.Int("d", defaults.D, 1, 4096),
            BatchSize = o.Int("batch", defaults.BatchSize, 2, 65536),
            LearningRate = Positive(o, "lr", defaults.LearningRate),
            JointEpochs = o.Int("joint-epochs", defaults.JointEpochs, 0, epochs),
            QuantizationToEncoder = o.Double("quant-to-encoder", defaults.QuantizationToEncoder),
            RefineEpochs = o.Int("refine-epochs", defaults.RefineEpochs, 0, 1000),
            CodebookLearningRate = Positive(o, "codebook-lr", defaults.CodebookLearningRate),
            CodeSemanticWeight = o.Double("code-semantic", defaults.CodeSemanticWeight),
            Temperature = Positive(o, "temperature", defaults.Temperature),
            Augment = !o.Flag("no-augment"),
        };
        int limit = o.Int("limit", int.MaxValue, 2);
        string dataDirectory = o.String("data") ?? FashionMnist.DefaultDirectory;
        o.EnsureAllRead();
        if (dataset != FashionMnist.Name) throw new UsageException($"--dataset '{dataset}' is not supported (supported: {FashionMnist.Name})\n{Usage}");
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

    private static double Positive(Options o, string name, double fallback)
    {
        double v = o.Double(name, fallback);
        return v > 0 ? v : throw new UsageException($"--{name} must be positive (got {v})");
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
