using Dpq.Data;
using Dpq.Imaging;
using Dpq.Onnx;
using TorchSharp;

namespace Dpq.Training.Tests;

/// <summary>Training on a folder tree of labelled images (made here: two classes of simple pictures), and the feature cache.</summary>
[Collection(TorchCollection.Name)]
public sealed class OwnImagesTrainingTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A bright disc on dark ("disc") or a bright bar on dark ("bar"), at a random place and size.</summary>
    private static byte[] Picture(bool disc, Random rng, int side = 32)
    {
        var gray = new byte[side * side];
        double cx = rng.Next(10, 22), cy = rng.Next(10, 22), r = rng.Next(4, 9);
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                bool on = disc ? (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r : Math.Abs(y - cy) < 2 && Math.Abs(x - cx) < r * 1.5;
                gray[y * side + x] = (byte)(on ? 200 + rng.Next(50) : rng.Next(40));
            }
        return ImagePreprocessor.EncodePng(gray, side, side);
    }

    private string MakeFolder(int perClass)
    {
        var rng = new Random(5);
        foreach (var (name, disc) in new[] { ("Round thing", true), ("Bar", false) })
        {
            var dir = Directory.CreateDirectory(Path.Combine(_temp.Path, "images", name));
            for (int i = 0; i < perClass; i++) File.WriteAllBytes(Path.Combine(dir.FullName, $"{i:000}.png"), Picture(disc, rng));
        }
        File.WriteAllText(Path.Combine(_temp.Path, "images", "Bar", "readme.txt"), "not an image");
        return Path.Combine(_temp.Path, "images");
    }

    [Fact]
    public void AFolderTrainsAModelThatNamesItsClassesAndRecordsItsHeldOutMap()
    {
        var images = LabelledImages.FromFolder(MakeFolder(150), out var refused);
        Assert.Single(refused);
        Assert.Equal(["Bar", "Round thing"], images.ClassNames);
        var (train, heldOut) = images.Split(0.2, seed: 1);
        Assert.Equal(240, train.Count);
        Assert.Equal(60, heldOut.Count);
        Assert.Equal(30, heldOut.Files.Count(f => f.Class == 0)); // a share of each class
        Assert.Empty(train.Files.Select(f => f.Name).Intersect(heldOut.Files.Select(f => f.Name)));

        var options = new TrainingOptions { Epochs = 3, BatchSize = 40, K = 16, M = 2, D = 8, RefineEpochs = 1, KMeansIterations = 5, Seed = 2 };
        var output = Path.Combine(_temp.Path, "model");
        var result = ModelTraining.Run(TrainingSource.FromFiles(train), TrainingSource.FromFiles(heldOut), options, side: 28, output,
            new FeatureCache(Path.Combine(_temp.Path, "cache")), torch.CPU, copyCodeImages: null);

        Assert.Equal(["Bar", "Round thing"], result.Manifest.ClassNames);
        Assert.StartsWith("folder ", result.Manifest.Training.Dataset);
        Assert.Equal([4, 8], result.HeldOutMap.Keys);
        Assert.True(result.HeldOutMap[8] > 0.7, $"held-out 8-bit mAP {result.HeldOutMap[8]:F3} (chance 0.5)");
        Assert.Equal(result.HeldOutMap[8], result.Manifest.Metrics["heldout_map_8bits"], 5);
        Assert.Equal(60, result.Manifest.Metrics["heldout_images"]);
        using var model = ModelFiles.LoadedModel.Open(output);
        Assert.Equal(["Bar", "Round thing"], model.Manifest.ClassNameList);
    }

    [Fact]
    public void ASmallCnnTrainsInColourAtTheSizeAskedAndServesColour()
    {
        var images = LabelledImages.FromFolder(MakeFolder(150), out _);
        var (train, heldOut) = images.Split(0.2, seed: 1);
        var options = new TrainingOptions { Epochs = 6, BatchSize = 40, K = 16, M = 2, D = 8, RefineEpochs = 1, KMeansIterations = 5, Seed = 2 };
        var output = Path.Combine(_temp.Path, "colour");
        var result = ModelTraining.Run(TrainingSource.FromFiles(train), TrainingSource.FromFiles(heldOut), options, side: 32, output,
            new FeatureCache(Path.Combine(_temp.Path, "cache")), torch.CPU, copyCodeImages: null, colour: true);
        Assert.Equal(new ModelFiles.InputShape(3, 32, 32), result.Manifest.Input);
        Assert.True(result.HeldOutMap[8] > 0.7, $"held-out 8-bit mAP {result.HeldOutMap[8]:F3} (chance 0.5)");
        using var model = ModelFiles.LoadedModel.Open(output);
        Assert.Equal(3, model.InputChannels);
        var encoded = Ingest.BatchEncoder.Encode([.. heldOut.Files.Select(f => (ReadOnlyMemory<byte>)f.Read())], model);
        Assert.Equal(heldOut.Count, encoded.Good.Length);
    }

    [Fact]
    public void AResNet18ModelTrainsOnItsFeaturesAndServesColourImagesAsOneGraph()
    {
        var images = LabelledImages.FromFolder(MakeFolder(24), out _);
        var (train, heldOut) = images.Split(0.25, seed: 1);
        var options = new TrainingOptions { Backbone = ResNet18Graph.Name, Epochs = 4, BatchSize = 12, K = 16, M = 2, D = 8, RefineEpochs = 1, KMeansIterations = 5, Seed = 2 };
        var output = Path.Combine(_temp.Path, "resnet");
        var result = ModelTraining.Run(TrainingSource.FromFiles(train), TrainingSource.FromFiles(heldOut), options, side: 28, output,
            new FeatureCache(Path.Combine(_temp.Path, "cache")), torch.CPU, copyCodeImages: null);

        Assert.Equal(ResNet18Graph.Input, result.Manifest.Input);
        Assert.Equal(ResNet18Graph.Name, result.Manifest.Backbone);
        Assert.Equal(ResNet18Graph.Opset, result.Manifest.Onnx!.Opset);
        Assert.True(result.HeldOutMap[8] > 0.7, $"held-out 8-bit mAP {result.HeldOutMap[8]:F3} (chance 0.5)");
        using var model = ModelFiles.LoadedModel.Open(output);
        Assert.Equal(3, model.InputChannels);
        // Served as uploads are: each file decoded in colour at 224 x 224, through the one exported graph.
        var files = heldOut.Files.Select(f => (ReadOnlyMemory<byte>)f.Read()).ToArray();
        var encoded = Ingest.BatchEncoder.Encode(files, model);
        Assert.Equal(files.Length, encoded.Good.Length);
        // What serving computes is what training measured: the served codes of the held-out images give their held-out classes back.
        using (var torchModel = TorchModel.Load(output, torch.CPU)) Assert.Equal(new ModelFiles.InputShape(ResNet18Graph.Features, 1, 1), torchModel.Network.Config.Input); // TorchSharp holds the layers on the features
        var pre = new ImagePreprocessor(ResNet18Graph.Side, ResNet18Graph.Side, channels: 3);
        var pixels = new float[pre.PixelCount];
        pre.Decode(heldOut.Files[0].Read(), pixels);
        var served = model.Encode(pixels, 1);
        Assert.Equal(heldOut.Files[0].Class, served.Predictions[0]);
    }

    [Fact]
    public void BackboneFeaturesAreComputedOnceAndReadBackForTheSameImages()
    {
        var images = LabelledImages.FromFolder(MakeFolder(3), out _);
        var counted = TrainingSource.FromFiles(images);
        // A stand-in backbone: the 3x8x8 pixels themselves as 192 features.
        var g = new OnnxGraphBuilder("flatten");
        var x = g.Input("pixels", 3, 8, 8);
        g.Node("Flatten", [x], "features", OnnxGraphBuilder.Int("axis", 1));
        g.Output("features", 192);
        using var backbone = new BackboneFeatures(Google.Protobuf.MessageExtensions.ToByteArray(g.Build(17, "test", "0")), new ModelFiles.InputShape(3, 8, 8), 192);
        var cache = new FeatureCache(Path.Combine(_temp.Path, "cache"));
        var logs = new List<string>();
        var first = cache.GetOrCompute("flat", counted, backbone, null, logs.Add);
        var second = cache.GetOrCompute("flat", counted, backbone, null, logs.Add);
        Assert.Equal(first, second);
        Assert.Equal(6 * 192, first.Length);
        Assert.Contains("computing", logs[0]);
        Assert.Contains("read from", logs[1]);
        Assert.True(first.Max() > 0.5f); // bright pixels came through

        // Another set of images (one file more) is not answered from the cache.
        File.WriteAllBytes(Path.Combine(_temp.Path, "images", "Bar", "new.png"), Picture(false, new Random(9)));
        var third = cache.GetOrCompute("flat", TrainingSource.FromFiles(LabelledImages.FromFolder(Path.Combine(_temp.Path, "images"), out _)), backbone, null, logs.Add);
        Assert.Equal(7 * 192, third.Length);
        Assert.Contains("computing", logs[2]);
    }
}
