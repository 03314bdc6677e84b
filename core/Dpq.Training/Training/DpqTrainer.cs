using System.Diagnostics;
using Dpq.Data;
using Dpq.ModelFiles;
using Dpq.Training.Network;
using Dpq.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training;

/// <summary>A trained network (owned by the caller) and what model.json records about it.</summary>
public sealed record TrainingResult(DpqNetwork Network, QuantizerInfo Quantizer, TrainingInfo Training, Dictionary<string, double> Metrics);

/// <summary>
/// Trains a DPQ model (docs/model.md):
/// 1. <see cref="TrainingOptions.Epochs"/> epochs of the encoder on the semantic loss plus weighted
///    cross-entropy. The last <see cref="TrainingOptions.JointEpochs"/> of them (0 by default) also
///    run the quantizer: codebooks from residual k-means at their start, refined by the quantization
///    loss, whose gradient reaches the encoder scaled by <see cref="TrainingOptions.QuantizationToEncoder"/>.
/// 2. The final training features (eval mode, no augmentation) are computed once; without joint
///    epochs the codebooks are initialised by residual k-means on them; then
///    <see cref="TrainingOptions.RefineEpochs"/> passes refine the codebooks on these fixed features
///    with the quantization loss (plus the semantic loss on the hard reconstructions).
/// Deterministic for a seed: torch's generator, our shuffling/augmentation RNG and k-means all derive from it.
/// </summary>
public static class DpqTrainer
{
    public static TrainingResult Train(ImageSet train, TrainingOptions options, Device device,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Train(TrainingInputs.FromImages(train), options, device, progress, cancellationToken);

    /// <param name="dataset">What model.json records as the training data.</param>
    public static TrainingResult Train(TrainingInputs train, TrainingOptions options, Device device,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default, string dataset = FashionMnist.Name)
    {
        options.Validate();
        if (options.Augment && train.Images is null) options = options with { Augment = false }; // only image sets held as bytes are shifted and flipped
        var wall = Stopwatch.StartNew();
        random.manual_seed(options.Seed);
        var (mean, std) = train.Normalisation();
        var config = new DpqNetworkConfig(options.Backbone, train.Shape, options.D, options.K, options.M, train.Classes, mean, std);
        var network = new DpqNetwork(config);
        try
        {
            network.to(device);
            var run = new Run(network, train, options, device, progress, cancellationToken);
            var (quantizer, metrics) = run.Execute();
            var training = new TrainingInfo(dataset, train.Count, options.Epochs, options.Seed, options.BatchSize,
                options.LearningRate, options.JointEpochs, options.QuantizationToEncoder, options.RefineEpochs,
                options.CodebookLearningRate, options.CodeSemanticWeight, options.ClassificationWeight, options.Augment,
                device.type.ToString().ToLowerInvariant(), Math.Round(wall.Elapsed.TotalSeconds, 1));
            return new TrainingResult(network, quantizer, training, metrics);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private sealed class Run(DpqNetwork network, TrainingInputs train, TrainingOptions options, Device device,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        private readonly Random _rng = new(options.Seed);
        private readonly Dictionary<string, double> _metrics = [];
        private double[] _scales = [];

        public (QuantizerInfo, Dictionary<string, double>) Execute()
        {
            TrainEncoder();
            var final = train.EncodeAll(options.D, options.M, false, 1000, network.EncodeBatch);
            if (options.JointEpochs == 0) InitialiseCodebooks(final.Features);
            RefineCodebooks(final.Features);
            RecordReconstruction(final.Features);
            return (new QuantizerInfo("neg-squared-euclidean", options.Temperature, _scales), _metrics);
        }

        private void TrainEncoder()
        {
            var sampler = new BatchSampler(train, options.BatchSize, _rng, options.Augment);
            using var encoderOptimizer = optim.Adam(network.Encoder.parameters(), lr: options.LearningRate);
            using var codebookOptimizer = optim.Adam(network.Quantizer.parameters(), lr: options.CodebookLearningRate);
            var pixels = new float[options.BatchSize * train.Shape.Pixels];
            var labels = new long[options.BatchSize];
            long totalSteps = (long)options.Epochs * sampler.Batches, step = 0;
            var sums = new LossSums();
            for (int epoch = 0; epoch < options.Epochs; epoch++)
            {
                bool joint = epoch >= options.JointStartEpoch;
                if (epoch == options.JointStartEpoch)
                {
                    InitialiseCodebooks(train.EncodeAll(options.D, options.M, false, 1000, network.EncodeBatch).Features);
                    // Encoding the whole set leaves many dead tensor wrappers behind. One run crashed in the
                    // next training step ("Unknown scalar type" inside BatchNorm's num_batches_tracked.add_(1)),
                    // consistent with a finalizer freeing a native scalar mid-call; finalize them here, between steps.
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
                string phase = joint ? "encoder+codebooks" : "encoder";
                sampler.Shuffle();
                sums = new LossSums();
                var clock = Stopwatch.StartNew();
                network.train();
                for (int batch = 0; batch < sampler.Batches; batch++, step++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    foreach (var group in encoderOptimizer.ParamGroups) group.LearningRate = CosineRate(options.LearningRate, step, totalSteps);
                    int count = sampler.Fill(batch, pixels, labels);
                    if (count < 2) continue; // batch norm needs two samples
                    EncoderStep(pixels, labels, count, joint, encoderOptimizer, codebookOptimizer, ref sums);
                    bool last = batch == sampler.Batches - 1;
                    if (progress is not null && (last || batch % 10 == 0))
                        progress.Report(sums.Report(epoch, options.Epochs, batch + 1, sampler.Batches, phase, clock.Elapsed.TotalSeconds, last));
                }
            }
            _metrics["train_semantic_loss"] = sums.Mean(sums.Semantic);
            _metrics["train_classification_loss"] = sums.Mean(sums.Classification);
            _metrics["train_accuracy_running"] = sums.Images > 0 ? (double)sums.Correct / sums.Images : 0;
        }

        private void EncoderStep(float[] pixels, long[] labels, int count, bool joint,
            optim.Optimizer encoderOptimizer, optim.Optimizer codebookOptimizer, ref LossSums sums)
        {
            using var noGc = NoGcScope.Enter();
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
            if (joint)
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
            if (joint) codebookOptimizer.step();
            sums.Add(count, semantic.item<float>(), classification.item<float>(), quantization?.item<float>() ?? 0,
                output.Logits.argmax(1).eq(target).sum().item<long>());
        }

        /// <summary>Residual k-means on features; each level's mean squared residual becomes its temperature scale.</summary>
        private void InitialiseCodebooks(float[] features)
        {
            var clock = Stopwatch.StartNew();
            var init = ResidualKMeans.Train(features, train.Count, options.D, options.M, options.K, options.Seed, options.KMeansIterations);
            network.Quantizer.SetCodebooks(init.Codebooks);
            _scales = [.. init.MeanSquaredResidual.Select(v => Math.Max(v, 1e-8))];
            network.Quantizer.SetTemperature(options.Temperature, _scales);
            _metrics["kmeans_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        }

        /// <summary>Codebook-only passes over the fixed features: quantization loss + semantic loss on Qh(m).</summary>
        private void RefineCodebooks(float[] features)
        {
            if (options.RefineEpochs == 0) return;
            int d = options.D, batchSize = options.BatchSize;
            using var optimizer = optim.Adam(network.Quantizer.parameters(), lr: options.CodebookLearningRate);
            var order = Enumerable.Range(0, train.Count).ToArray();
            var x = new float[batchSize * d];
            var y = new long[batchSize];
            int batches = train.Count / batchSize;
            for (int epoch = 0; epoch < options.RefineEpochs; epoch++)
            {
                _rng.Shuffle(order);
                var sums = new LossSums();
                var clock = Stopwatch.StartNew();
                for (int b = 0; b < batches; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    for (int i = 0; i < batchSize; i++)
                    {
                        int j = order[b * batchSize + i];
                        features.AsSpan(j * d, d).CopyTo(x.AsSpan(i * d, d));
                        y[i] = train.Labels[j];
                    }
                    using var noGc = NoGcScope.Enter();
                    using var scope = NewDisposeScope();
                    var input = tensor(x, [batchSize, d]).to(device);
                    var target = tensor(y, [batchSize]).to(device);
                    optimizer.zero_grad();
                    var q = network.Quantizer.Forward(input, soft: true);
                    var quantization = DpqLosses.Quantization(input, q.Soft, q.Hard);
                    var semantic = DpqLosses.SemanticOnReconstructions(q.Hard, target, network.Config.Classes);
                    var loss = quantization + options.CodeSemanticWeight * semantic;
                    loss.backward();
                    optimizer.step();
                    sums.Add(batchSize, semantic.item<float>(), 0, quantization.item<float>(), 0);
                    bool last = b == batches - 1;
                    if (progress is not null && (last || b % 50 == 0))
                        progress.Report(sums.Report(epoch, options.RefineEpochs, b + 1, batches, "codebooks", clock.Elapsed.TotalSeconds, last));
                }
                _metrics["refine_quantization_loss"] = sums.Mean(sums.Quantization);
                _metrics["refine_code_semantic_loss"] = sums.Mean(sums.Semantic);
            }
        }

        /// <summary>Mean squared error of the m-level reconstruction of the final training features, per code length.</summary>
        private void RecordReconstruction(float[] features)
        {
            var books = network.Quantizer.ToCodebooks();
            int d = options.D, m = options.M;
            var errors = new double[m];
            var gate = new Lock();
            Parallel.For(0, train.Count, () => new double[m], (i, _, local) =>
            {
                Span<byte> code = stackalloc byte[m];
                Span<float> residual = stackalloc float[d];
                features.AsSpan(i * d, d).CopyTo(residual);
                books.EncodeHard(residual, code);
                for (int l = 0; l < m; l++)
                {
                    var word = books.Codeword(l, code[l]);
                    for (int j = 0; j < d; j++) residual[j] -= word[j];
                    local[l] += VectorMath.Dot(residual, residual);
                }
                return local;
            }, local =>
            {
                lock (gate) for (int l = 0; l < m; l++) errors[l] += local[l];
            });
            for (int l = 0; l < m; l++) _metrics[$"train_reconstruction_mse_{(l + 1) * books.BitsPerLevel}bits"] = errors[l] / Math.Max(1, train.Count);
        }
    }

    private static double CosineRate(double peak, long step, long total) =>
        peak * (0.01 + 0.99 * 0.5 * (1 + Math.Cos(Math.PI * step / Math.Max(1, total))));

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
