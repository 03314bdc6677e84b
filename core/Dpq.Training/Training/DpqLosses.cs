using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training;

/// <summary>The three DPQ losses (docs/model.md and shared/dpq-method.md).</summary>
public static class DpqLosses
{
    /// <summary>
    /// Label-guided semantic loss with one-hot label vectors v_i = e_i in R^D and margin 1 (DVSQ's
    /// adaptive margin reduces to 1 for one-hot labels): the mean over samples n and wrong classes j
    /// of max(0, 1 - cos(x_n, v_y) + cos(x_n, v_j)). cos(x, e_j) is x_j / ||x||.
    /// </summary>
    public static Tensor Semantic(Tensor feature, Tensor labels, int classes)
    {
        using var scope = NewDisposeScope();
        var cosines = nn.functional.normalize(feature, p: 2, dim: 1).narrow(1, 0, classes);
        var positive = cosines.gather(1, labels.unsqueeze(1));
        var wrong = 1 - nn.functional.one_hot(labels, classes).to(feature.dtype);
        var margins = (1 - positive + cosines).clamp_min(0) * wrong;
        return (margins.sum() / (feature.shape[0] * (classes - 1))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Progressive quantization loss: the sum over levels m of MSE(x, Qs(m)) + MSE(x, Qh(m)), plus
    /// 0.1 MSE(Qs(M), Qh(M)); Qs/Qh are the cumulative soft/hard reconstructions.
    /// </summary>
    public static Tensor Quantization(Tensor x, IReadOnlyList<Tensor> soft, IReadOnlyList<Tensor> hard)
    {
        if (soft.Count != hard.Count || soft.Count == 0) throw new ArgumentException("one soft and one hard codeword per level");
        using var scope = NewDisposeScope();
        Tensor qs = soft[0], qh = hard[0];
        var loss = nn.functional.mse_loss(qs, x) + nn.functional.mse_loss(qh, x);
        for (int l = 1; l < soft.Count; l++)
        {
            qs = qs + soft[l];
            qh = qh + hard[l];
            loss = loss + nn.functional.mse_loss(qs, x) + nn.functional.mse_loss(qh, x);
        }
        loss = loss + 0.1 * nn.functional.mse_loss(qs, qh);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The semantic loss applied to the cumulative hard reconstructions Qh(1), ..., Qh(M), summed over
    /// levels like the quantization loss: pulls codewords towards class-pure positions while the codebooks are refined. An
    /// addition of ours, not in the paper; weight TrainingOptions.CodeSemanticWeight.
    /// </summary>
    public static Tensor SemanticOnReconstructions(IReadOnlyList<Tensor> hard, Tensor labels, int classes)
    {
        using var scope = NewDisposeScope();
        var reconstruction = hard[0];
        var loss = Semantic(reconstruction, labels, classes);
        for (int l = 1; l < hard.Count; l++)
        {
            reconstruction = reconstruction + hard[l];
            loss = loss + Semantic(reconstruction, labels, classes);
        }
        return loss.MoveToOuterDisposeScope();
    }
}
