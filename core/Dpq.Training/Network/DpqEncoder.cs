using Dpq.ModelFiles;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Dpq.Training.Network;

/// <summary>What the encoder computes for a batch: the tanh feature x (N x D) and the class logits (N x C).</summary>
public sealed record EncoderOutput(Tensor Feature, Tensor Logits);

/// <summary>
/// Image to feature: normalisation ((pixel - mean) / std, pixels in [0, 1]), the backbone, then
/// the feature layer (linear to D, tanh) and, beside it on the same hidden vector, the linear
/// classification head. <see cref="forward"/> returns the feature only.
/// </summary>
public sealed class DpqEncoder : Module<Tensor, Tensor>
{
    private readonly Backbone backbone;
    private readonly Sequential feature;
    private readonly Linear head;
    private readonly float _mean;
    private readonly float _std;

    public DpqEncoder(string backboneName, InputShape input, int featureDim, int classes, float mean, float std) : base("encoder")
    {
        if (!(std > 0)) throw new ArgumentOutOfRangeException(nameof(std), std, "must be positive");
        backbone = Backbones.Create(backboneName, input);
        feature = Sequential(("fc", Linear(backbone.OutputSize, featureDim)), ("tanh", Tanh()));
        head = Linear(backbone.OutputSize, classes);
        (_mean, _std) = (mean, std);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixels) => Forward(pixels, withLogits: false).Feature;

    /// <summary>Feature and logits; <paramref name="withLogits"/> false skips the head (Logits is then an empty tensor).</summary>
    public EncoderOutput Forward(Tensor pixels, bool withLogits = true)
    {
        using var normalised = pixels.sub(_mean).div_(_std);
        using var hiddenVector = backbone.call(normalised);
        var x = feature.call(hiddenVector);
        var logits = withLogits ? head.call(hiddenVector) : empty(0, device: x.device);
        return new EncoderOutput(x, logits);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            backbone.Dispose();
            feature.Dispose();
            head.Dispose();
            ClearModules();
        }
        base.Dispose(disposing);
    }
}
