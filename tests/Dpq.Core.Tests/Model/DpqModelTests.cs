using System.Text.RegularExpressions;
using Dpq.Model;
using Dpq.Tests.Quantization;
using TorchSharp;

namespace Dpq.Tests.Model;

[Collection(TorchCollection.Name)]
public sealed class DpqModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    internal static ModelManifest SaveUntrained(string directory, int m = 2, int k = 16, int d = 16)
    {
        torch.random.manual_seed(5);
        using var network = new DpqNetwork(new DpqNetworkConfig(SmallCnnBackbone.Name, new InputShape(1, 28, 28), d, k, m, 10, 0.3f, 0.35f));
        network.Quantizer.SetCodebooks(CodebooksTests.Random(m, k, d, seed: 6, scaleDecay: 0.3f));
        return DpqModel.Save(directory, network, new QuantizerInfo("neg-squared-euclidean", 0.2, [.. Enumerable.Repeat(1.0, m)]),
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

        using var model = DpqModel.Load(_dir, torch.CPU);
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
        using var model = DpqModel.Load(_dir, torch.CPU);
        var pixels = Pixels(6, 2);
        var batch = model.Encode(pixels, 6);
        var single = model.Encode(pixels.AsSpan(3 * 784, 784), 1);
        Assert.Equal(batch.Codes.AsSpan(6, 2).ToArray(), single.Codes);
        for (int j = 0; j < 16; j++) Assert.Equal(batch.Features[3 * 16 + j], single.Features[j], 5);
    }

    [Fact]
    public void ExplainsAMissingModel()
    {
        var e = Assert.Throws<FileNotFoundException>(() => DpqModel.Load(Path.Combine(_dir, "none")));
        Assert.Contains("no model at", e.Message);
        Assert.Contains("./dpq train", e.Message);
    }

    [Theory]
    [InlineData(DpqModel.WeightsFileName)]
    [InlineData(DpqModel.CodebooksFileName)]
    public void RejectsAChangedFile(string name)
    {
        SaveUntrained(_dir);
        var path = Path.Combine(_dir, name);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => DpqModel.Load(_dir, torch.CPU));
        Assert.Contains("does not match model.json", e.Message);
    }

    [Fact]
    public void RejectsAnUnknownBackbone()
    {
        SaveUntrained(_dir);
        var path = Path.Combine(_dir, ModelManifest.FileName);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"small-cnn\"", "\"resnet-from-nowhere\""));
        var e = Assert.ThrowsAny<Exception>(() => DpqModel.Load(_dir, torch.CPU));
        Assert.Contains("resnet-from-nowhere", e.Message);
    }
}
