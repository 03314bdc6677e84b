using Dpq.ModelFiles;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Dpq.Training.Network;

/// <summary>
/// The trained part behind a frozen pretrained backbone (<see cref="Dpq.Onnx.ResNet18Graph"/>): its features
/// are computed once per image outside TorchSharp and arrive here as D x 1 x 1 inputs; one fully connected
/// layer of <see cref="OutputSize"/> units with ReLU and dropout adapts them for the DPQ feature layer and head.
/// </summary>
public sealed class PretrainedFeaturesBackbone : Backbone
{
    private const int Hidden = 256;
    private readonly Sequential hidden;

    public PretrainedFeaturesBackbone(string name, InputShape input) : base(name)
    {
        if (input.Height != 1 || input.Width != 1)
            throw new ArgumentException($"{name} trains on its frozen backbone's features (D x 1 x 1), got {input}", nameof(input));
        hidden = Sequential(("flatten", Flatten()), ("fc", Linear(input.Channels, Hidden)), ("relu", ReLU()), ("dropout", Dropout(0.3)));
        RegisterComponents();
    }

    public override int OutputSize => Hidden;

    public override Tensor forward(Tensor input) => hidden.call(input);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            hidden.Dispose();
            ClearModules();
        }
        base.Dispose(disposing);
    }
}
