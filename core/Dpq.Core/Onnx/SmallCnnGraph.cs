using Dpq.ModelFiles;
using Onnx;

namespace Dpq.Onnx;

/// <summary>Batch-norm statistics and affine parameters of one channel set (eval mode).</summary>
public sealed record BatchNormWeights(float[] Gamma, float[] Beta, float[] RunningMean, float[] RunningVar, double Epsilon);

/// <summary>A 3x3 convolution without bias (weight: out x in x 3 x 3, row-major) followed by batch norm.</summary>
public sealed record ConvStageWeights(int InChannels, int OutChannels, float[] Weight, BatchNormWeights Norm)
{
    /// <summary>
    /// The convolution with the batch norm folded in: W' = W * s and b' = beta - mean * s per output
    /// channel, s = gamma / sqrt(var + eps), computed in float64. Exact in eval mode up to rounding.
    /// </summary>
    public (float[] Weight, float[] Bias) FoldBatchNorm()
    {
        int perChannel = InChannels * 9;
        if (Weight.Length != OutChannels * perChannel) throw new ArgumentException($"conv weight has {Weight.Length} values, expected {OutChannels}x{InChannels}x3x3");
        var weight = new float[Weight.Length];
        var bias = new float[OutChannels];
        for (int o = 0; o < OutChannels; o++)
        {
            double s = Norm.Gamma[o] / Math.Sqrt(Norm.RunningVar[o] + Norm.Epsilon);
            for (int i = 0; i < perChannel; i++) weight[o * perChannel + i] = (float)(Weight[o * perChannel + i] * s);
            bias[o] = (float)(Norm.Beta[o] - Norm.RunningMean[o] * s);
        }
        return (weight, bias);
    }
}

/// <summary>A linear layer in torch's layout: weight Out x In, row-major, and Out biases.</summary>
public sealed record DenseWeights(int In, int Out, float[] Weight, float[] Bias);

/// <summary>Everything the small-cnn feature network computes with, in eval mode (no dropout).</summary>
public sealed record SmallCnnWeights(InputShape Input, float Mean, float Std, IReadOnlyList<ConvStageWeights> Stages,
    DenseWeights Hidden, DenseWeights Feature, DenseWeights Head);

/// <summary>
/// The small-cnn feature network as an ONNX graph (opset 17): (pixels - mean) / std; per stage a
/// 3x3 convolution (padding 1) with its batch norm folded in, ReLU and 2x2 max pooling; flatten;
/// the hidden fully connected layer with ReLU; then the feature layer with tanh and, beside it, the
/// classification head. Input and outputs follow <see cref="OnnxInfo.Default"/>.
/// </summary>
public static class SmallCnnGraph
{
    public static ModelProto Build(SmallCnnWeights w, string producerVersion)
    {
        var info = OnnxInfo.Default;
        var g = new OnnxGraphBuilder("dpq-feature-small-cnn");
        var x = g.Input(info.Input, w.Input.Channels, w.Input.Height, w.Input.Width);
        x = g.Node("Sub", [x, g.Initializer("mean", [w.Mean])]);
        x = g.Node("Div", [x, g.Initializer("std", [w.Std])]);
        int height = w.Input.Height, width = w.Input.Width, channels = w.Input.Channels;
        for (int s = 0; s < w.Stages.Count; s++)
        {
            var stage = w.Stages[s];
            if (stage.InChannels != channels) throw new ArgumentException($"stage {s} takes {stage.InChannels} channels, the previous gives {channels}");
            var (weight, bias) = stage.FoldBatchNorm();
            x = g.Node("Conv", [x, g.Initializer($"conv{s + 1}.weight", weight, stage.OutChannels, stage.InChannels, 3, 3), g.Initializer($"conv{s + 1}.bias", bias, stage.OutChannels)],
                null, OnnxGraphBuilder.Ints("kernel_shape", 3, 3), OnnxGraphBuilder.Ints("pads", 1, 1, 1, 1), OnnxGraphBuilder.Ints("strides", 1, 1));
            x = g.Node("Relu", [x]);
            x = g.Node("MaxPool", [x], null, OnnxGraphBuilder.Ints("kernel_shape", 2, 2), OnnxGraphBuilder.Ints("strides", 2, 2));
            (channels, height, width) = (stage.OutChannels, height / 2, width / 2);
        }
        x = g.Node("Flatten", [x], null, OnnxGraphBuilder.Int("axis", 1));
        Check(w.Hidden, channels * height * width, "hidden");
        x = g.Node("Relu", [Gemm(g, x, w.Hidden, "hidden")]);
        Check(w.Feature, w.Hidden.Out, "feature");
        Check(w.Head, w.Hidden.Out, "head");
        g.Node("Tanh", [Gemm(g, x, w.Feature, "feature")], info.Feature);
        Gemm(g, x, w.Head, "head", info.Logits);
        g.Output(info.Feature, w.Feature.Out);
        g.Output(info.Logits, w.Head.Out);
        return g.Build(info.Opset, "dpq-serverless", producerVersion);
    }

    /// <summary>Y = X W^T + b, W in torch's Out x In layout (transB = 1).</summary>
    private static string Gemm(OnnxGraphBuilder g, string x, DenseWeights d, string name, string? output = null) =>
        g.Node("Gemm", [x, g.Initializer($"{name}.weight", d.Weight, d.Out, d.In), g.Initializer($"{name}.bias", d.Bias, d.Out)],
            output, OnnxGraphBuilder.Int("transB", 1));

    private static void Check(DenseWeights d, int expectedIn, string name)
    {
        if (d.In != expectedIn) throw new ArgumentException($"{name} layer takes {d.In} inputs, the layer before gives {expectedIn}");
        if (d.Weight.Length != d.In * d.Out || d.Bias.Length != d.Out) throw new ArgumentException($"{name} layer: weight or bias has the wrong size for {d.Out}x{d.In}");
    }
}
