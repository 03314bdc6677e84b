using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dpq.Training.Network;

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
    /// The nearest codeword per row, lowest index on a tie; not differentiable. Distances are
    /// ||r||^2 - 2 r.c + ||c||^2 in float64: in float32 that expansion cancels badly for the small
    /// residuals of deep levels and disagreed with Codebooks.EncodeHard (which sums (r - c)^2 in
    /// float32) on near-ties, and an N x K x D difference tensor doubled the encoding time.
    /// </summary>
    public Tensor NearestIndex(Tensor residual)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var r = residual.detach().to(ScalarType.Float64);
        var c = codebook.detach().to(ScalarType.Float64);
        var distance = r.square().sum(1, keepdim: true) - 2 * r.matmul(c.t()) + c.square().sum(1).unsqueeze(0);
        return distance.argmin(1).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) ClearModules();
        base.Dispose(disposing);
    }
}
