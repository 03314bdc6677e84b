using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dpq.Model;

/// <summary>One level's assignment for a batch: soft codeword (N x D, null when not asked for),
/// hard codeword (N x D) and the hard index (N, int64).</summary>
public sealed record LevelAssignment(Tensor? Soft, Tensor Hard, Tensor Index);

/// <summary>
/// One level of progressive quantization: a codebook of K codewords in R^D. The similarity is the
/// negative squared Euclidean distance. Hard assignment takes the nearest codeword (what residual
/// k-means and <see cref="Dpq.Quantization.Codebooks.EncodeHard"/> do); the hard codeword is
/// differentiable in the codebook, not in the index. Soft assignment weights
/// every codeword by softmax(-||r - c_k||^2 / (temperature * scale)), where scale is this level's
/// typical squared residual, so the temperature means the same at every level.
/// </summary>
public sealed class QuantizationBlock : nn.Module
{
    private readonly Parameter codebook;

    public QuantizationBlock(int k, int d, string name) : base(name)
    {
        codebook = new Parameter(zeros(k, d));
        RegisterComponents();
    }

    public Parameter Codebook => codebook;

    /// <summary>The softmax divisor is Temperature x Scale.</summary>
    public double Temperature { get; set; } = 1.0;

    public double Scale { get; set; } = 1.0;

    public LevelAssignment Assign(Tensor residual, bool soft)
    {
        using var scope = NewDisposeScope();
        var index = NearestIndex(residual);
        var hard = codebook.index_select(0, index);
        Tensor? softWord = null;
        if (soft)
        {
            // ||r - c||^2 = ||r||^2 - 2 r.c + ||c||^2: one matmul, differentiable in r and c.
            var distance = residual.square().sum(1, keepdim: true)
                .sub(residual.matmul(codebook.t()).mul(2))
                .add(codebook.square().sum(1).unsqueeze(0));
            var weights = distance.div(-Temperature * Scale).softmax(1);
            softWord = weights.matmul(codebook).MoveToOuterDisposeScope();
        }
        return new LevelAssignment(softWord, hard.MoveToOuterDisposeScope(), index.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The nearest codeword per row, from sum((r - c)^2) over dimensions: the same arithmetic as
    /// Codebooks.EncodeHard (the expanded form cancels badly for the small residuals of deep
    /// levels and flipped near-ties). The first index wins a tie. Not differentiable.
    /// </summary>
    public Tensor NearestIndex(Tensor residual)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var difference = residual.detach().unsqueeze(1) - codebook.detach().unsqueeze(0);
        return difference.pow_(2).sum(2).argmin(1).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) ClearModules();
        base.Dispose(disposing);
    }
}
