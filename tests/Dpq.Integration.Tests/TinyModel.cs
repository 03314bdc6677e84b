using Dpq.Data;
using Dpq.ModelFiles;
using Dpq.Training;
using static TorchSharp.torch;

namespace Dpq.Integration.Tests;

/// <summary>
/// A real DPQ model, small enough to train in seconds: 2,000 Fashion-MNIST training images, two
/// epochs, K=256, M=4, with copy codes trained on the same images. Trained once per test run and shared read-only.
/// </summary>
public static class TinyModel
{
    private static readonly Lazy<string> Folder = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Directory => Folder.Value;

    public static ImageSet TestImages { get; } = FashionMnist.Load(DatasetSplit.Test).Slice(0, 500);

    private static string Train()
    {
        var dir = TestScratch.NewDirectory("tiny-model");
        var train = FashionMnist.Load(DatasetSplit.Train).Slice(0, 2000);
        var options = new TrainingOptions { Epochs = 2, Seed = 11, K = 256, M = 4, D = 32, KMeansIterations = 5 };
        var result = DpqTrainer.Train(train, options, CPU);
        ModelFiles.ModelManifest manifest;
        using (result.Network) manifest = TorchModel.Save(dir, result.Network, result.Quantizer, result.Training, result.Metrics, DateTime.UtcNow, train.ClassNames);
        ModelFolder.AddCopyCodec(dir, Copies.CopyCodecTrainer.Train(train, manifest.Input, seed: 11));
        return dir;
    }
}
