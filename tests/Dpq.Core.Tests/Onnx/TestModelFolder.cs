using Dpq.Formats;
using Dpq.ModelFiles;
using Dpq.Onnx;
using Dpq.Tests.Quantization;
using Google.Protobuf;

namespace Dpq.Tests.Onnx;

/// <summary>
/// A servable model folder made without training: random small-cnn weights exported with
/// <see cref="SmallCnnGraph"/>, random codebooks, and a format-2 model.json listing both.
/// </summary>
internal static class TestModelFolder
{
    public const int D = 16, K = 16, M = 2, Classes = 10;

    public static ModelManifest Write(string directory, int seed = 1)
    {
        var rng = new Random(seed);
        float[] Random(int n, double scale) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale))];
        float[] Positive(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(0.5 + rng.NextDouble()))];
        var input = new InputShape(1, 28, 28);
        var stages = new List<ConvStageWeights>();
        int channels = 1;
        foreach (var output in new[] { 32, 64, 128 })
        {
            stages.Add(new ConvStageWeights(channels, output, Random(output * channels * 9, 1.0 / Math.Sqrt(channels * 9)),
                new BatchNormWeights(Positive(output), Random(output, 0.1), Random(output, 0.1), Positive(output), 1e-5)));
            channels = output;
        }
        var weights = new SmallCnnWeights(input, 0.29f, 0.35f, stages,
            new DenseWeights(128 * 3 * 3, 256, Random(256 * 1152, 1 / Math.Sqrt(1152)), Random(256, 0.1)),
            new DenseWeights(256, D, Random(D * 256, 1 / 16.0), Random(D, 0.1)),
            new DenseWeights(256, Classes, Random(Classes * 256, 1 / 16.0), Random(Classes, 0.1)));

        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, OnnxInfo.FileName), SmallCnnGraph.Build(weights, "test").ToByteArray());
        CodebookFile.WriteFile(Path.Combine(directory, "codebooks.dpqc"), TestCodebooks.Random(M, K, D, seed, scaleDecay: 0.3f));
        File.WriteAllBytes(Path.Combine(directory, "weights.dat"), [1, 2, 3]); // serving never reads the TorchSharp weights
        var manifest = new ModelManifest
        {
            Version = $"m-20260102030405-0000000{seed % 10}",
            CreatedUtc = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc),
            K = K, M = M, D = D, Classes = Classes,
            Input = input,
            Normalisation = new NormalisationInfo(0.29f, 0.35f),
            Backbone = "small-cnn",
            Quantizer = new QuantizerInfo("neg-squared-euclidean", 0.2, [1, 1]),
            Training = new TrainingInfo("test", 0, 0, seed, 1, 1e-3, 0, 0, 0, 1e-5, 0, 0.1, false, "cpu", 0),
            Metrics = [],
            Files = new ModelFileSet(ModelFolder.Describe(directory, "weights.dat"), ModelFolder.Describe(directory, "codebooks.dpqc"),
                ModelFolder.Describe(directory, OnnxInfo.FileName)),
            Onnx = OnnxInfo.Default,
        };
        ModelFolder.WriteManifest(directory, manifest);
        return manifest;
    }

    /// <summary>count random 28x28 images in [0, 1].</summary>
    public static float[] Pixels(int count, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count * 784).Select(_ => (float)rng.NextDouble())];
    }

    /// <summary>Rewrites model.json through a text edit (for damaged-manifest tests).</summary>
    public static void EditManifest(string directory, Func<string, string> edit)
    {
        var path = Path.Combine(directory, ModelManifest.FileName);
        File.WriteAllText(path, edit(File.ReadAllText(path)));
    }
}
