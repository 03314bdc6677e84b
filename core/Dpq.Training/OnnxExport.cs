using Dpq.ModelFiles;
using Dpq.Onnx;
using Dpq.Training.Network;
using Google.Protobuf;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training;

/// <summary>
/// TorchSharp has no ONNX exporter: this reads the trained encoder's parameters (eval-mode batch-norm
/// statistics included) and rebuilds the same computation as an ONNX graph with
/// <see cref="SmallCnnGraph"/>, or behind the frozen ResNet18 with <see cref="ResNet18Graph"/>. Only the backbones we ship are known here.
/// </summary>
public static class OnnxExport
{
    /// <summary>The encoder's feature network (normalisation, backbone, feature layer, head) as ONNX bytes.</summary>
    public static byte[] ToBytes(DpqNetwork network) => Build(network).ToByteArray();

    public static global::Onnx.ModelProto Build(DpqNetwork network)
    {
        var config = network.Config;
        if (config.Backbone is not (SmallCnnBackbone.Name or ResNet18Graph.Name))
            throw new NotSupportedException($"no ONNX export for backbone '{config.Backbone}' (supported: {SmallCnnBackbone.Name}, {ResNet18Graph.Name})");
        var state = network.Encoder.state_dict();
        float[] Get(string key) => state.TryGetValue(key, out var t)
            ? t.detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray()
            : throw new InvalidOperationException($"the encoder has no parameter '{key}' (has: {string.Join(", ", state.Keys)})");

        DenseWeights Dense(string prefix)
        {
            var weight = state[$"{prefix}.weight"];
            return new DenseWeights((int)weight.shape[1], (int)weight.shape[0], Get($"{prefix}.weight"), Get($"{prefix}.bias"));
        }
        var producer = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0";
        if (config.Backbone == ResNet18Graph.Name)
            return ResNet18Graph.FeatureNetwork(ResNet18Files.Preprocess, ResNet18Files.Network, Dense("backbone.hidden.fc"), Dense("feature.fc"), Dense("head"), producer);

        var stages = new List<ConvStageWeights>();
        int channels = config.Input.Channels;
        for (int s = 0; s < SmallCnnBackbone.StageChannels.Length; s++)
        {
            int output = SmallCnnBackbone.StageChannels[s];
            string conv = $"backbone.features.conv{s + 1}", bn = $"backbone.features.bn{s + 1}";
            stages.Add(new ConvStageWeights(channels, output, Get($"{conv}.weight"),
                new BatchNormWeights(Get($"{bn}.weight"), Get($"{bn}.bias"), Get($"{bn}.running_mean"), Get($"{bn}.running_var"), SmallCnnBackbone.BatchNormEpsilon)));
            channels = output;
        }
        var weights = new SmallCnnWeights(config.Input, config.Mean, config.Std, stages,
            Dense("backbone.hidden.fc"), Dense("feature.fc"), Dense("head"));
        return SmallCnnGraph.Build(weights, producer);
    }
}
