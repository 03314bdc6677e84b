using Dpq.ModelFiles;
using Dpq.ModelVersions;
using Dpq.Onnx;

namespace Dpq.Tests.Onnx;

/// <summary>Serving a model folder through ONNX Runtime: encodes, thread safety, and every way a folder can be wrong.</summary>
public sealed class LoadedModelTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private string Dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void EncodesFeaturesAndAssignsCodesWithTheCodebooks()
    {
        var manifest = TestModelFolder.Write(Dir);
        using var model = LoadedModel.Open(Dir);
        var pixels = TestModelFolder.Pixels(20, 1);
        var batch = model.Encode(pixels, 20);

        Assert.Equal(manifest.Version, model.ModelVersion);
        Assert.Equal("cpu", model.Provider.Name);
        Assert.Equal((20 * 16, 20 * 2, 20), (batch.Features.Length, batch.Codes.Length, batch.Predictions.Length));
        Assert.All(batch.Features, v => Assert.InRange(v, -1f, 1f)); // tanh
        Assert.True(batch.Features.Distinct().Count() > 100, "features should depend on the image");
        for (int i = 0; i < 20; i++)
            Assert.Equal(model.Codebooks.EncodeHard(batch.Features.AsSpan(i * 16, 16)), batch.Codes.AsSpan(i * 2, 2).ToArray());
        Assert.Equal(batch.Codes, model.EncodeCodes(pixels, 20));
        Assert.All(batch.Predictions, p => Assert.InRange(p, (byte)0, (byte)9));
    }

    [Fact]
    public void EncodesEachImageIndependentlyOfItsBatch()
    {
        TestModelFolder.Write(Dir);
        using var model = LoadedModel.Open(Dir);
        var pixels = TestModelFolder.Pixels(6, 2);
        var batch = model.EncodeFeatures(pixels, 6);
        var single = model.EncodeFeatures(pixels.AsSpan(3 * 784, 784), 1);
        for (int j = 0; j < 16; j++) Assert.Equal(batch[3 * 16 + j], single[j], 5);
    }

    [Fact]
    public async Task ConcurrentEncodesGiveWhatOneAtATimeGives()
    {
        TestModelFolder.Write(Dir);
        using var model = LoadedModel.Open(Dir, new InferenceOptions { IntraOpThreads = 1 });
        var images = Enumerable.Range(0, 32).Select(i => TestModelFolder.Pixels(1, 100 + i)).ToArray();
        var expected = images.Select(p => model.EncodeFeatures(p, 1)).ToArray();
        var mismatches = await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            int wrong = 0;
            for (int n = 0; n < 200; n++)
            {
                int i = (n * 7 + t) % images.Length;
                if (!model.EncodeFeatures(images[i], 1).AsSpan().SequenceEqual(expected[i])) wrong++;
            }
            return wrong;
        })));
        Assert.All(mismatches, wrong => Assert.Equal(0, wrong));
    }

    [Fact]
    public void ExplainsAFolderWithoutTheOnnxFile()
    {
        TestModelFolder.Write(Dir);
        // A format-1 folder: no files.onnx and no onnx contract (unknown members are skipped).
        TestModelFolder.EditManifest(Dir, json => json.Replace("\"dpq-model/2\"", "\"dpq-model/1\"").Replace("\"onnx\": {", "\"before\": {"));
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains($"./dpq export-onnx --model {Dir}", e.Message);
    }

    [Fact]
    public void NamesAMissingOnnxFile()
    {
        TestModelFolder.Write(Dir);
        File.Delete(Path.Combine(Dir, OnnxInfo.FileName));
        var e = Assert.Throws<FileNotFoundException>(() => LoadedModel.Open(Dir));
        Assert.Contains(OnnxInfo.FileName, e.Message);
    }

    [Fact]
    public void RefusesAChangedOnnxFile()
    {
        TestModelFolder.Write(Dir);
        var path = Path.Combine(Dir, OnnxInfo.FileName);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains(path, e.Message);
        Assert.Contains("does not match model.json", e.Message);
    }

    [Fact]
    public void RefusesAnOnnxFileThatIsNotAModelEvenWhenItsHashIsListed()
    {
        var manifest = TestModelFolder.Write(Dir);
        var path = Path.Combine(Dir, OnnxInfo.FileName);
        File.WriteAllBytes(path, [.. File.ReadAllBytes(path).Take(1000)]); // truncated
        ModelFolder.WriteManifest(Dir, manifest with { Files = manifest.Files with { Onnx = ModelFolder.Describe(Dir, OnnxInfo.FileName) } });
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains($"{path}: not a loadable ONNX model", e.Message);
    }

    [Theory]
    [InlineData("\"classes\": 10", "\"classes\": 12", "'logits' has shape [batch, 10], model.json says [batch, 12]")]
    [InlineData("\"height\": 28", "\"height\": 32", "'pixels' has shape [batch, 1, 28, 28], model.json says [batch, 1, 32, 28]")]
    public void RefusesAGraphWhoseShapesDisagreeWithTheManifest(string from, string to, string message)
    {
        TestModelFolder.Write(Dir);
        TestModelFolder.EditManifest(Dir, json => json.Contains(from) ? json.Replace(from, to) : throw new InvalidOperationException($"no {from} in {json}"));
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains(Path.Combine(Dir, OnnxInfo.FileName), e.Message);
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(3)] // too few
    [InlineData(10, "Bag")] // a duplicate
    [InlineData(10, "bag,shoe")] // not a class name
    public void RefusesClassNamesThatDoNotNameEachClassOnce(int count, string? odd = null)
    {
        var manifest = TestModelFolder.Write(Dir);
        var names = Enumerable.Range(0, count).Select(i => $"class {i}").ToList();
        if (odd is not null) names[0] = names[1] = odd;
        if (odd == "bag,shoe") names[1] = "class 1";
        ModelFolder.WriteManifest(Dir, manifest with { ClassNames = names });
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains("classNames must hold 10 distinct class names", e.Message);
        ModelFolder.WriteManifest(Dir, manifest with { ClassNames = [.. Enumerable.Range(0, 10).Select(i => $"class {i}")] });
        using var model = LoadedModel.Open(Dir);
        Assert.Equal("class 9", model.Manifest.ClassNameList[9]);
    }

    [Theory]
    [InlineData("\"input\": {", "\"input\": null, \"was\": {", "'input'")]
    [InlineData("\"path\": \"codebooks.dpqc\"", "\"path\": null", "'files.codebooks'")]
    public void RefusesAManifestWithANullWhereAValueBelongsNamingTheFile(string from, string to, string member)
    {
        TestModelFolder.Write(Dir);
        TestModelFolder.EditManifest(Dir, json => json.Contains(from) ? json.Replace(from, to) : throw new InvalidOperationException($"no {from}"));
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains(Path.Combine(Dir, ModelManifest.FileName), e.Message);
        Assert.Contains(member, e.Message);
    }

    [Fact]
    public void CopyCodesOpenWithTheModelAndADamagedFileIsNamed()
    {
        TestModelFolder.Write(Dir);
        using (var plain = LoadedModel.Open(Dir)) Assert.Null(plain.Copies);
        Dpq.ModelFiles.ModelFolder.AddCopyCodec(Dir, Dpq.Tests.Copies.TestCopies.Codec);
        using (var model = LoadedModel.Open(Dir))
        {
            Assert.NotNull(model.Copies);
            Assert.Equal(Dpq.Tests.Copies.TestCopies.Codec.Codec.CopyDistance, model.Copies.CopyDistance);
            Assert.Equal(Dpq.Tests.Copies.TestCopies.Codec.Codec.CrossTerms, model.Copies.CrossTerms);
        }
        var path = Path.Combine(Dir, CopyInfo.FileName);
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 1;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void CopySettingsWithoutTheirFileAreRefused()
    {
        TestModelFolder.Write(Dir);
        Dpq.ModelFiles.ModelFolder.AddCopyCodec(Dir, Dpq.Tests.Copies.TestCopies.Codec);
        TestModelFolder.EditManifest(Dir, json =>
        {
            var root = System.Text.Json.Nodes.JsonNode.Parse(json)!;
            root["files"]!.AsObject().Remove("copies");
            return root.ToJsonString();
        });
        var e = Assert.Throws<InvalidDataException>(() => LoadedModel.Open(Dir));
        Assert.Contains("'copies'", e.Message);
    }
}
