using Dpq.ModelFiles;
using Onnx;

namespace Dpq.Onnx;

/// <summary>
/// The ImageNet-trained ResNet18 that ML.NET ships as ONNX (ResNetPreprocess.onnx: RGB to BGR minus a mean
/// image, for pixels in 0..255; ResNet18.onnx: to the 512 averages of its last stage), frozen, with a
/// symbolic batch dimension instead of the files' fixed batch of 1. <see cref="Backbone"/> is the frozen part
/// alone (what training features are computed with); <see cref="FeatureNetwork"/> adds the trained DPQ
/// layers, as the one graph serving runs. Both are opset 8, the files' own.
/// </summary>
public static class ResNet18Graph
{
    public const string Name = "resnet18";
    public const int Side = 224;
    public const int Features = 512;
    public const int Opset = 8;
    public const string BackboneOutput = "backbone";

    public static InputShape Input { get; } = new(3, Side, Side);

    /// <summary>Pixels in [0, 1] (batch x 3 x 224 x 224, RGB) to the backbone's 512 features (batch x 512).</summary>
    public static ModelProto Backbone(byte[] preprocess, byte[] resnet, string producerVersion)
    {
        var g = new OnnxGraphBuilder("dpq-backbone-resnet18");
        var features = AddBackbone(g, preprocess, resnet);
        g.Node("Identity", [features], BackboneOutput);
        g.Output(BackboneOutput, Features);
        return g.Build(Opset, "dpq-serverless", producerVersion);
    }

    /// <summary>The backbone, then the trained hidden layer (ReLU), the feature layer (tanh) and the classification head: <see cref="OnnxInfo.Default"/>'s contract.</summary>
    public static ModelProto FeatureNetwork(byte[] preprocess, byte[] resnet, DenseWeights hidden, DenseWeights feature, DenseWeights head, string producerVersion)
    {
        if (hidden.In != Features) throw new ArgumentException($"the hidden layer takes {hidden.In} inputs; the backbone gives {Features}", nameof(hidden));
        var info = OnnxInfo.Default;
        var g = new OnnxGraphBuilder("dpq-feature-resnet18");
        var x = AddBackbone(g, preprocess, resnet);
        x = g.Node("Relu", [Gemm(g, x, hidden, "hidden")]);
        g.Node("Tanh", [Gemm(g, x, feature, "feature")], info.Feature);
        Gemm(g, x, head, "head", info.Logits);
        g.Output(info.Feature, feature.Out);
        g.Output(info.Logits, head.Out);
        return g.Build(Opset, "dpq-serverless", producerVersion);
    }

    private static string AddBackbone(OnnxGraphBuilder g, byte[] preprocess, byte[] resnet)
    {
        var prep = ModelProto.Parser.ParseFrom(preprocess);
        var net = ModelProto.Parser.ParseFrom(resnet);
        var x = g.Input(OnnxInfo.Default.Input, Input.Channels, Input.Height, Input.Width);
        x = g.Node("Mul", [x, g.Initializer("to_255", [255f])]); // the files take pixels in 0..255
        var prepared = g.Embed(prep, "prep/", new Dictionary<string, string> { [Single(prep.Graph.Input, prep).Name] = x }).Single();
        var pooled = g.Embed(net, "resnet/", new Dictionary<string, string> { [Single(net.Graph.Input.Where(i => !net.Graph.Initializer.Any(t => t.Name == i.Name)), net).Name] = prepared }).Single();
        return g.Node("Flatten", [pooled], null, OnnxGraphBuilder.Int("axis", 1));
    }

    private static ValueInfoProto Single(IEnumerable<ValueInfoProto> inputs, ModelProto model)
    {
        var list = inputs.ToList();
        return list.Count == 1 ? list[0] : throw new InvalidDataException($"graph {model.Graph.Name} has {list.Count} inputs; a backbone file has one");
    }

    private static string Gemm(OnnxGraphBuilder g, string x, DenseWeights d, string name, string? output = null) =>
        g.Node("Gemm", [x, g.Initializer($"{name}.weight", d.Weight, d.Out, d.In), g.Initializer($"{name}.bias", d.Bias, d.Out)],
            output, OnnxGraphBuilder.Int("transB", 1));
}
