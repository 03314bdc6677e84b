using Dpq.ModelFiles;
using Dpq.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training.Network;

/// <summary>Everything that fixes the network's shape. Mean and Std normalise pixels in [0, 1].</summary>
public sealed record DpqNetworkConfig(string Backbone, InputShape Input, int D, int K, int M, int Classes, float Mean, float Std)
{
    public static DpqNetworkConfig From(ModelManifest m) =>
        new(m.Backbone, Backbones.TrainedInput(m.Backbone, m.Input), m.D, m.K, m.M, m.Classes, m.Normalisation.Mean, m.Normalisation.Std);

    public void Validate()
    {
        if (D < Classes) throw new ArgumentException($"D = {D} must be at least the number of classes ({Classes}): the semantic loss embeds labels one-hot in R^D");
        if (M < 1 || K < 2 || K > 256) throw new ArgumentException($"M = {M} must be >= 1 and K = {K} from 2 to 256");
        if (Classes < 2) throw new ArgumentException($"{Classes} classes");
    }
}

/// <summary>
/// The DPQ network: <see cref="DpqEncoder"/> (backbone, tanh feature of dimension D, classification
/// head) followed by the <see cref="ProgressiveQuantizer"/> (M levels of K codewords).
/// <see cref="forward"/> maps pixels in [0, 1] (N x C x H x W) to features.
/// </summary>
public sealed class DpqNetwork : nn.Module<Tensor, Tensor>
{
    private readonly DpqEncoder encoder;
    private readonly ProgressiveQuantizer quantizer;

    public DpqNetwork(DpqNetworkConfig config) : base("dpq")
    {
        config.Validate();
        Config = config;
        encoder = new DpqEncoder(config.Backbone, config.Input, config.D, config.Classes, config.Mean, config.Std);
        quantizer = new ProgressiveQuantizer(config.M, config.K, config.D);
        RegisterComponents();
    }

    public DpqNetworkConfig Config { get; }
    public DpqEncoder Encoder => encoder;
    public ProgressiveQuantizer Quantizer => quantizer;

    public override Tensor forward(Tensor pixels) => encoder.call(pixels);

    /// <summary>Where the parameters live.</summary>
    public Device Device => encoder.parameters().First().device;

    /// <summary>
    /// One forward pass for count images (count x C x H x W floats in [0, 1]) under eval() and
    /// no_grad(): features, hard codes (when <paramref name="withCodes"/>; the quantizer must hold
    /// codebooks) and predicted classes, copied to managed arrays before the scope ends. Leaves
    /// the network in eval mode.
    /// </summary>
    public EncodedBatch EncodeBatch(ReadOnlySpan<float> pixels, int count, bool withCodes = true)
    {
        var shape = Config.Input;
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (pixels.Length != count * shape.Pixels)
            throw new ArgumentException($"{pixels.Length} values for {count} images of {shape.Channels}x{shape.Height}x{shape.Width}", nameof(pixels));
        int d = Config.D, m = Config.M;
        var features = new float[count * d];
        var codes = new byte[withCodes ? count * m : 0];
        var predictions = new byte[count];
        if (count == 0) return new EncodedBatch(0, d, m, features, codes, predictions);

        eval();
        using var noGc = NoGcScope.Enter();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = tensor(pixels.ToArray(), [count, shape.Channels, shape.Height, shape.Width]).to(Device);
        var output = encoder.Forward(input);
        output.Feature.cpu().data<float>().CopyTo(features);
        output.Logits.argmax(1).to(ScalarType.Byte).cpu().data<byte>().CopyTo(predictions);
        if (withCodes) quantizer.Encode(output.Feature).to(ScalarType.Byte).cpu().data<byte>().CopyTo(codes);
        return new EncodedBatch(count, d, m, features, codes, predictions);
    }

    /// <summary><see cref="EncodeBatch"/> over a whole image set, <paramref name="batchSize"/> images per pass.</summary>
    public EncodedBatch EncodeAll(ImageSet images, bool withCodes = true, int batchSize = 1000) =>
        EncodedBatch.EncodeAll(images, Config.Input, Config.D, Config.M, withCodes, batchSize, EncodeBatch);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            encoder.Dispose();
            quantizer.Dispose();
            ClearModules();
        }
        base.Dispose(disposing);
    }
}
