using Dpq.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Dpq.Training.Tests;

/// <summary>
/// The composed ResNet18 graphs against the package's own two files run one after the other (pixels x 255 into
/// the preprocess graph, its output into the network), at their fixed batch of 1: the reference the composition must match.
/// </summary>
public sealed class ResNet18GraphTests
{
    private const int Pixels = 3 * ResNet18Graph.Side * ResNet18Graph.Side;

    private static float[] RandomPixels(int images, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, images * Pixels).Select(_ => (float)rng.NextDouble())];
    }

    private static float[] Run(InferenceSession session, float[] input, int batch, string? output = null)
    {
        var name = session.InputMetadata.Keys.Single();
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(input, [batch, 3, ResNet18Graph.Side, ResNet18Graph.Side]))]);
        return [.. (output is null ? results.First() : results.Single(r => r.Name == output)).AsTensor<float>()];
    }

    /// <summary>The package's files chained by hand, one image.</summary>
    private static float[] Reference(float[] image)
    {
        using var prep = new InferenceSession(ResNet18Files.Preprocess);
        using var net = new InferenceSession(ResNet18Files.Network);
        var prepared = Run(prep, [.. image.Select(v => v * 255f)], 1);
        return Run(net, prepared, 1);
    }

    [Fact]
    public void TheBackboneIsThePackagesTwoFilesChainedAndTakesAnyBatch()
    {
        var pixels = RandomPixels(2, seed: 1);
        using var backbone = new InferenceSession(ResNet18Graph.Backbone(ResNet18Files.Preprocess, ResNet18Files.Network, "test").ToByteArray());
        var batched = Run(backbone, pixels, 2);
        Assert.Equal(2 * ResNet18Graph.Features, batched.Length);
        for (int i = 0; i < 2; i++)
        {
            var expected = Reference(pixels[(i * Pixels)..((i + 1) * Pixels)]);
            var actual = batched[(i * ResNet18Graph.Features)..((i + 1) * ResNet18Graph.Features)];
            Assert.True(expected.Max(Math.Abs) > 0.01f, "the reference features are all zero");
            for (int j = 0; j < expected.Length; j++) Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-4f + 1e-4f * Math.Abs(expected[j]), $"image {i} feature {j}: {actual[j]} vs {expected[j]}");
        }
    }

    [Fact]
    public void TheFeatureNetworkAddsTheTrainedLayersOnTheBackbone()
    {
        var rng = new Random(2);
        Dense Layer(int input, int output) => new(input, output, [.. Enumerable.Range(0, input * output).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.1f)],
            [.. Enumerable.Range(0, output).Select(_ => (float)(rng.NextDouble() - 0.5))]);
        Dense hidden = Layer(ResNet18Graph.Features, 8), feature = Layer(8, 4), head = Layer(8, 3);
        var pixels = RandomPixels(1, seed: 3);
        using var network = new InferenceSession(ResNet18Graph.FeatureNetwork(ResNet18Files.Preprocess, ResNet18Files.Network,
            hidden.Weights, feature.Weights, head.Weights, "test").ToByteArray());
        var x = Reference(pixels);
        var h = hidden.Apply(x).Select(v => Math.Max(0, v)).ToArray();
        var expectedFeature = feature.Apply(h).Select(MathF.Tanh).ToArray();
        var expectedLogits = head.Apply(h);
        var actualFeature = Run(network, pixels, 1, "feature");
        var actualLogits = Run(network, pixels, 1, "logits");
        for (int j = 0; j < 4; j++) Assert.Equal(expectedFeature[j], actualFeature[j], 3);
        for (int j = 0; j < 3; j++) Assert.Equal(expectedLogits[j], actualLogits[j], 3);
    }

    private sealed record Dense(int In, int Out, float[] W, float[] B)
    {
        public DenseWeights Weights => new(In, Out, W, B);

        public float[] Apply(float[] x) =>
            [.. Enumerable.Range(0, Out).Select(o => B[o] + Enumerable.Range(0, In).Sum(i => W[o * In + i] * x[i]))];
    }
}
