using Dpq.ModelFiles;
using Dpq.Training.Network;

namespace Dpq.Training;

/// <summary>Settings of one training run; the defaults are the documented default model (docs/model.md).</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training images that train the encoder.</summary>
    public int Epochs { get; init; } = 8;
    public int Seed { get; init; } = 1;
    public int BatchSize { get; init; } = 128;

    /// <summary>Peak Adam learning rate of the encoder; cosine-annealed to 1% over the run.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>The last JointEpochs of the encoder epochs also train the codebooks (initialised by
    /// residual k-means at their start), as the official code's second half does. 0 (default): the
    /// codebooks are fitted to the finished feature only.</summary>
    public int JointEpochs { get; init; }

    /// <summary>Weight of the quantization loss's gradient into the encoder during joint epochs. 0
    /// (default): the quantization loss trains only the codebooks, as in the official code; 1: end to end.</summary>
    public double QuantizationToEncoder { get; init; }

    /// <summary>Passes of codebook-only refinement over the fixed final training features, after
    /// residual k-means on them (or, after joint epochs, from the jointly trained codebooks).</summary>
    public int RefineEpochs { get; init; } = 3;

    /// <summary>Adam learning rate of the codebooks (constant).</summary>
    public double CodebookLearningRate { get; init; } = 3e-5;

    /// <summary>Weight of the semantic loss applied to the cumulative hard reconstructions Qh(m) while
    /// the codebooks are refined (0: quantization loss only, as in the paper).</summary>
    public double CodeSemanticWeight { get; init; } = 1.0;

    /// <summary>Weight of the cross-entropy of the classification head (0.1 in the paper).</summary>
    public double ClassificationWeight { get; init; } = 0.1;

    /// <summary>Soft assignment temperature, relative to each level's mean squared residual.</summary>
    public double Temperature { get; init; } = 0.2;

    public int K { get; init; } = 256;
    public int M { get; init; } = 4;
    public int D { get; init; } = 96;
    public bool Augment { get; init; } = true;
    public string Backbone { get; init; } = SmallCnnBackbone.Name;
    public int KMeansIterations { get; init; } = 20;

    /// <summary>0-based epoch at whose start the joint phase begins (Epochs when there is none).</summary>
    public int JointStartEpoch => Epochs - JointEpochs;

    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1 (got {Epochs})");
        if (BatchSize < 2) throw new ArgumentException($"batch size must be at least 2 (got {BatchSize})");
        if (JointEpochs < 0 || JointEpochs > Epochs) throw new ArgumentException($"joint epochs must be in 0..{Epochs} (got {JointEpochs})");
        if (RefineEpochs < 0) throw new ArgumentException($"refine epochs must not be negative (got {RefineEpochs})");
        if (!(LearningRate > 0) || !(CodebookLearningRate > 0) || !(Temperature > 0))
            throw new ArgumentException("learning rates and temperature must be positive");
        if (QuantizationToEncoder < 0 || ClassificationWeight < 0 || CodeSemanticWeight < 0)
            throw new ArgumentException("loss weights must not be negative");
    }
}

/// <summary>One progress report: running means of the loss terms over the epoch so far.</summary>
public sealed record TrainingProgress(
    int Epoch, int Epochs, int Batch, int Batches, string Phase,
    double SemanticLoss, double ClassificationLoss, double QuantizationLoss, double Accuracy,
    double ImagesPerSecond, bool EpochDone);
