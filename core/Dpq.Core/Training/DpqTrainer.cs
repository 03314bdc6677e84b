using System.Diagnostics;
using Dpq.Data;
using Dpq.Model;
using Dpq.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training;

/// <summary>A trained network (owned by the caller) and what model.json records about it.</summary>
public sealed record TrainingResult(DpqNetwork Network, QuantizerInfo Quantizer, TrainingInfo Training, Dictionary<string, double> Metrics);

/// <summary>
/// Trains a DPQ model in two phases (docs/model.md):
/// 1. epochs before <see cref="TrainingOptions.ResolvedCodebookStartEpoch"/>: the encoder alone, on
///    the semantic loss plus weighted cross-entropy;
/// 2. at that epoch's start the codebooks are initialised by residual k-means on the training
///    features (eval mode), each level's temperature scale is set from its mean squared residual,
///    and from then on the quantization loss refines the codebooks (its own Adam) while the
///    encoder keeps training, receiving the quantization gradient scaled by
///    <see cref="TrainingOptions.QuantizationToEncoder"/> (0 by default).
/// Deterministic for a seed: torch's generator, our shuffling/augmentation RNG and k-means all derive from it.
/// </summary>
public static class DpqTrainer
{
    public static TrainingResult Train(ImageSet train, TrainingOptions options, Device device,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var wall = Stopwatch.StartNew();
        random.manual_seed(options.Seed);
        var (mean, std) = PixelStatistics(train);
        var config = new DpqNetworkConfig(options.Backbone, new InputShape(1, train.Height, train.Width),
            options.D, options.K, options.M, train.Classes, mean, std);
        var network = new DpqNetwork(config);
        try
        {
            network.to(device);
            var result = Run(network, train, options, device, progress, cancellationToken);
            var training = new TrainingInfo(FashionMnist.Name, train.Count, options.Epochs, options.Seed, options.BatchSize,
                options.LearningRate, options.CodebookLearningRate, options.ResolvedCodebookStartEpoch, options.QuantizationToEncoder,
                options.ClassificationWeight, options.Augment, device.type.ToString().ToLowerInvariant(), Math.Round(wall.Elapsed.TotalSeconds, 1));
            return result with { Network = network, Training = training };
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static TrainingResult Run(DpqNetwork network, ImageSet train, TrainingOptions options, Device device,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var rng = new Random(options.Seed);
        var sampler = new BatchSampler(train, options.BatchSize, rng, options.Augment);
        using var encoderOptimizer = optim.Adam(network.Encoder.parameters(), lr: options.LearningRate);
        using var codebookOptimizer = optim.Adam(network.Quantizer.parameters(), lr: options.CodebookLearningRate);
        var pixels = new float[options.BatchSize * train.PixelsPerImage];
        var labels = new long[options.BatchSize];
        int startEpoch = options.ResolvedCodebookStartEpoch;
        long totalSteps = (long)options.Epochs * sampler.Batches, step = 0;
        double[] scales = new double[options.M];
        var metrics = new Dictionary<string, double>();
        var sums = new LossSums();

        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            bool quantize = epoch >= startEpoch;
            if (epoch == startEpoch)
            {
                scales = InitialiseCodebooks(network, train, options, metrics);
                network.Quantizer.SetTemperature(options.Temperature, scales);
            }
            string phase = quantize ? "encoder+codebooks" : "encoder";
            sampler.Shuffle();
            sums = new LossSums();
            var clock = Stopwatch.StartNew();
            network.train();
            for (int batch = 0; batch < sampler.Batches; batch++, step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                SetLearningRate(encoderOptimizer, CosineRate(options.LearningRate, step, totalSteps));
                int count = sampler.Fill(batch, pixels, labels);
                if (count < 2) continue; // batch norm needs two samples
                TrainStep(network, options, device, pixels, labels, count, quantize, encoderOptimizer, codebookOptimizer, ref sums);
                bool last = batch == sampler.Batches - 1;
                if (progress is not null && (last || batch % 10 == 0))
                    progress.Report(sums.Report(epoch, options.Epochs, batch + 1, sampler.Batches, phase, clock.Elapsed.TotalSeconds, last));
            }
        }

        metrics["train_semantic_loss"] = sums.Mean(sums.Semantic);
        metrics["train_classification_loss"] = sums.Mean(sums.Classification);
        metrics["train_quantization_loss"] = sums.Mean(sums.Quantization);
        metrics["train_accuracy_running"] = sums.Images > 0 ? (double)sums.Correct / sums.Images : 0;
        var quantizer = new QuantizerInfo("neg-squared-euclidean", options.Temperature, scales);
        return new TrainingResult(network, quantizer, null!, metrics);
    }

    private static void TrainStep(DpqNetwork network, TrainingOptions options, Device device, float[] pixels, long[] labels, int count,
        bool quantize, optim.Optimizer encoderOptimizer, optim.Optimizer codebookOptimizer, ref LossSums sums)
    {
        using var scope = NewDisposeScope();
        var shape = network.Config.Input;
        var input = tensor(pixels.AsSpan(0, count * shape.Pixels).ToArray(), [count, shape.Channels, shape.Height, shape.Width]).to(device);
        var target = tensor(labels.AsSpan(0, count).ToArray(), [count]).to(device);
        encoderOptimizer.zero_grad();
        codebookOptimizer.zero_grad();
        var output = network.Encoder.Forward(input);
        var semantic = DpqLosses.Semantic(output.Feature, target, network.Config.Classes);
        var classification = nn.functional.cross_entropy(output.Logits, target);
        var loss = semantic + options.ClassificationWeight * classification;
        Tensor? quantization = null;
        if (quantize)
        {
            // Forward value x; gradient into the encoder scaled by QuantizationToEncoder (0: codebooks only).
            var detached = output.Feature.detach();
            var x = options.QuantizationToEncoder > 0 ? detached + (output.Feature - detached) * options.QuantizationToEncoder : detached;
            var q = network.Quantizer.Forward(x, soft: true);
            quantization = DpqLosses.Quantization(x, q.Soft, q.Hard);
            loss = loss + quantization;
        }
        loss.backward();
        encoderOptimizer.step();
        if (quantize) codebookOptimizer.step();

        sums.Add(count, semantic.item<float>(), classification.item<float>(), quantization?.item<float>() ?? 0,
            output.Logits.argmax(1).eq(target).sum().item<long>());
    }

    /// <summary>Residual k-means on the training features; returns each level's mean squared residual (the temperature scales).</summary>
    private static double[] InitialiseCodebooks(DpqNetwork network, ImageSet train, TrainingOptions options, Dictionary<string, double> metrics)
    {
        var clock = Stopwatch.StartNew();
        var encoded = network.EncodeAll(train, withCodes: false);
        var init = ResidualKMeans.Train(encoded.Features, encoded.Count, options.D, options.M, options.K, options.Seed, options.KMeansIterations);
        network.Quantizer.SetCodebooks(init.Codebooks);
        network.train();
        metrics["kmeans_init_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        for (int l = 0; l < options.M; l++) metrics[$"kmeans_init_mse_level{l + 1}"] = init.MeanSquaredResidual[l];
        return [.. init.MeanSquaredResidual.Select(v => Math.Max(v, 1e-8))];
    }

    private static double CosineRate(double peak, long step, long total) =>
        peak * (0.01 + 0.99 * 0.5 * (1 + Math.Cos(Math.PI * step / Math.Max(1, total))));

    private static void SetLearningRate(optim.Optimizer optimizer, double rate)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = rate;
    }

    /// <summary>Mean and standard deviation of all training pixels in [0, 1].</summary>
    private static (float Mean, float Std) PixelStatistics(ImageSet images)
    {
        double sum = 0, sumSquares = 0;
        foreach (var p in images.Pixels)
        {
            double v = p / 255.0;
            sum += v;
            sumSquares += v * v;
        }
        double n = Math.Max(1, images.Pixels.Length), mean = sum / n;
        return ((float)mean, (float)Math.Sqrt(Math.Max(1e-12, sumSquares / n - mean * mean)));
    }

    private struct LossSums
    {
        public double Semantic, Classification, Quantization;
        public long Correct, Images;

        public void Add(int count, double semantic, double classification, double quantization, long correct)
        {
            Semantic += semantic * count;
            Classification += classification * count;
            Quantization += quantization * count;
            Correct += correct;
            Images += count;
        }

        public readonly double Mean(double sum) => Images > 0 ? sum / Images : 0;

        public readonly TrainingProgress Report(int epoch, int epochs, int batch, int batches, string phase, double seconds, bool done) =>
            new(epoch + 1, epochs, batch, batches, phase, Mean(Semantic), Mean(Classification), Mean(Quantization),
                Images > 0 ? (double)Correct / Images : 0, seconds > 0 ? Images / seconds : 0, done);
    }
}
