using Dpq.Model;

namespace Dpq.Training;

/// <summary>Settings of one training run; the defaults are the documented default model (docs/model.md).</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 10;
    public int Seed { get; init; } = 1;
    public int BatchSize { get; init; } = 128;

    /// <summary>Peak Adam learning rate of the encoder; cosine-annealed to 1% over the run.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>Adam learning rate of the codebooks once they exist (constant).</summary>
    public double CodebookLearningRate { get; init; } = 1e-4;

    /// <summary>0-based epoch at whose start the codebooks are initialised by residual k-means on the
    /// training features and from which the quantization loss runs. Null: the last quarter of the run.</summary>
    public int? CodebookStartEpoch { get; init; }

    /// <summary>Weight of the quantization loss's gradient into the encoder. 0 (default): the
    /// quantization loss trains only the codebooks, as in the official code; 1: fully end to end.</summary>
    public double QuantizationToEncoder { get; init; }

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

    public int ResolvedCodebookStartEpoch => CodebookStartEpoch ?? Math.Max(0, Epochs - Math.Max(1, Epochs / 4));

    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1 (got {Epochs})");
        if (BatchSize < 2) throw new ArgumentException($"batch size must be at least 2 (got {BatchSize})");
        if (ResolvedCodebookStartEpoch >= Epochs || ResolvedCodebookStartEpoch < 0)
            throw new ArgumentException($"codebook start epoch {ResolvedCodebookStartEpoch} must be in 0..{Epochs - 1}");
        if (!(LearningRate > 0) || !(CodebookLearningRate > 0) || !(Temperature > 0))
            throw new ArgumentException("learning rates and temperature must be positive");
        if (QuantizationToEncoder < 0 || ClassificationWeight < 0) throw new ArgumentException("loss weights must not be negative");
    }
}

/// <summary>One progress report: running means of the loss terms over the epoch so far.</summary>
public sealed record TrainingProgress(
    int Epoch, int Epochs, int Batch, int Batches, string Phase,
    double SemanticLoss, double ClassificationLoss, double QuantizationLoss, double Accuracy,
    double ImagesPerSecond, bool EpochDone);
