using System.Text.RegularExpressions;
using Dpq.ModelFiles;
using Dpq.ModelVersions;
using Dpq.Training.Network;
using Dpq.Tests.Quantization;
using TorchSharp;

namespace Dpq.Training.Tests;

[Collection(TorchCollection.Name)]
public sealed class TorchModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    internal static ModelManifest SaveUntrained(string directory, int m = 2, int k = 16, int d = 16)
    {
        torch.random.manual_seed(5);
        using var network = new DpqNetwork(new DpqNetworkConfig(SmallCnnBackbone.Name, new InputShape(1, 28, 28), d, k, m, 10, 0.3f, 0.35f));
        network.Quantizer.SetCodebooks(TestCodebooks.Random(m, k, d, seed: 6, scaleDecay: 0.3f));
        return TorchModel.Save(directory, network, new QuantizerInfo("neg-squared-euclidean", 0.2, [.. Enumerable.Repeat(1.0, m)]),
            new TrainingInfo("test", 0, 0, 1, 1, 1e-3, 0, 0, 0, 1e-5, 0, 0.1, false, "cpu", 0), [], new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc));
    }

    private static float[] Pixels(int count, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count * 784).Select(_ => (float)rng.NextDouble())];
    }

    [Fact]
    public void SavedModelLoadsAndEncodesIdentically()
    {
        var manifest = SaveUntrained(_dir);
        Assert.Matches(new Regex("^m-20260102030405-[0-9a-f]{8}$"), manifest.Version);
        Assert.StartsWith(manifest.Version[^8..], manifest.Files.Weights.Sha256);

        using var model = TorchModel.Load(_dir, torch.CPU);
        var pixels = Pixels(20, 1);
        var first = model.Encode(pixels, 20);
        var second = model.Encode(pixels, 20);

        Assert.Equal((20, 16, 2), (first.Count, first.D, first.M));
        Assert.Equal(first.Features, second.Features);
        Assert.Equal(first.Codes, second.Codes);
        Assert.All(first.Features, v => Assert.InRange(v, -1f, 1f)); // tanh
        // Stored codes are what the pure codebooks give for the same features.
        for (int i = 0; i < 20; i++)
            Assert.Equal(model.Codebooks.EncodeHard(first.Features.AsSpan(i * 16, 16)), first.Codes.AsSpan(i * 2, 2).ToArray());
        Assert.Equal(manifest.CodeLengths, model.Manifest.CodeLengths);
    }

    [Fact]
    public void EncodesEachImageIndependentlyOfItsBatch()
    {
        SaveUntrained(_dir);
        using var model = TorchModel.Load(_dir, torch.CPU);
        var pixels = Pixels(6, 2);
        var batch = model.Encode(pixels, 6);
        var single = model.Encode(pixels.AsSpan(3 * 784, 784), 1);
        Assert.Equal(batch.Codes.AsSpan(6, 2).ToArray(), single.Codes);
        for (int j = 0; j < 16; j++) Assert.Equal(batch.Features[3 * 16 + j], single.Features[j], 5);
    }

    [Fact]
    public void ExplainsAMissingModel()
    {
        var e = Assert.Throws<FileNotFoundException>(() => TorchModel.Load(Path.Combine(_dir, "none")));
        Assert.Contains("no model at", e.Message);
        Assert.Contains("./dpq train", e.Message);
    }

    [Theory]
    [InlineData(TorchModel.WeightsFileName)]
    [InlineData(TorchModel.CodebooksFileName)]
    public void RejectsAChangedFile(string name)
    {
        SaveUntrained(_dir);
        var path = Path.Combine(_dir, name);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => TorchModel.Load(_dir, torch.CPU));
        Assert.Contains("does not match model.json", e.Message);
    }

    [Fact]
    public void RejectsAnUnknownBackbone()
    {
        SaveUntrained(_dir);
        var path = Path.Combine(_dir, ModelManifest.FileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"small-cnn\"", "\"resnet-from-nowhere\""));
        var e = Assert.ThrowsAny<Exception>(() => TorchModel.Load(_dir, torch.CPU));
        Assert.Contains("resnet-from-nowhere", e.Message);
    }

    [Fact]
    public void SavesAnOnnxFeatureNetworkThatServingOpensAndThatAgreesWithTorchSharp()
    {
        var manifest = SaveUntrained(_dir);
        Assert.Equal(ModelManifest.CurrentFormat, manifest.Format);
        Assert.Equal(OnnxInfo.FileName, manifest.Files.Onnx?.Path);

        using var torchModel = TorchModel.Load(_dir, torch.CPU);
        using var onnxModel = LoadedModel.Open(_dir);
        var pixels = Pixels(12, 3);
        var expected = torchModel.Encode(pixels, 12);
        var actual = onnxModel.Encode(pixels, 12);
        for (int i = 0; i < expected.Features.Length; i++) Assert.True(Math.Abs(expected.Features[i] - actual.Features[i]) <= 1e-5, $"feature {i}");
        Assert.Equal(expected.Codes, actual.Codes);
        Assert.Equal(expected.Predictions, actual.Predictions);
    }

    [Fact]
    public void ExportAddsTheOnnxFileToAFolderTrainedBeforeItAndKeepsTheVersion()
    {
        var saved = SaveUntrained(_dir);
        File.Delete(Path.Combine(_dir, OnnxInfo.FileName));
        ModelFolder.WriteManifest(_dir, saved with { Format = ModelManifest.FormatWithoutOnnx, Files = saved.Files with { Onnx = null }, Onnx = null });
        Assert.Throws<InvalidDataException>(() => LoadedModel.Open(_dir));

        var exported = TorchModel.ExportOnnx(_dir);

        Assert.Equal(saved.Version, exported.Version);
        Assert.Equal(ModelManifest.CurrentFormat, ModelFolder.ReadManifest(_dir).Format);
        Assert.Equal(saved.Files.Onnx, exported.Files.Onnx); // the export is deterministic
        using var model = LoadedModel.Open(_dir);
        Assert.Equal(saved.Version, model.ModelVersion);
    }
}
