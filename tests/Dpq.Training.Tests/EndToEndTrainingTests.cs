using Dpq.Data;
using Dpq.Evaluation;
using Dpq.ModelFiles;
using Dpq.Training;
using TorchSharp;

namespace Dpq.Training.Tests;

/// <summary>A tiny run on a slice of Fashion-MNIST (installed by the Debian package dataset-fashion-mnist).</summary>
[Collection(TorchCollection.Name)]
public sealed class EndToEndTrainingTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [DatasetFact]
    public void TrainsOnAFewHundredImagesAndRetrievesFarAboveChance()
    {
        var train = FashionMnist.Load(DatasetSplit.Train).Slice(0, 600);
        var test = FashionMnist.Load(DatasetSplit.Test).Slice(0, 300);
        var options = new TrainingOptions
        {
            Epochs = 4, BatchSize = 50, K = 16, M = 2, D = 16, RefineEpochs = 1, KMeansIterations = 10, Seed = 3,
        };

        var result = DpqTrainer.Train(train, options, torch.CPU);
        using (var network = result.Network)
            TorchModel.Save(_dir, network, result.Quantizer, result.Training, result.Metrics, DateTime.UtcNow);
        using var model = ModelFiles.LoadedModel.Open(_dir);
        var report = Evaluator.Run(Evaluator.Prepare(model, train, test), productQuantization: false);

        // Chance: accuracy 0.1, mAP about 0.1 (ten balanced classes).
        Assert.True(report.Accuracy > 0.5, $"head accuracy {report.Accuracy:F3}");
        Assert.Equal([4, 8], report.Dpq.Keys);
        Assert.True(report.Dpq[8].Map > 0.3, $"8-bit mAP {report.Dpq[8].Map:F3}");
        Assert.True(report.Float.Map > 0.3, $"float mAP {report.Float.Map:F3}");

        // What serving runs (ONNX Runtime) is what training measured (TorchSharp), on every image.
        using var torchModel = TorchModel.Load(_dir, torch.CPU);
        var parity = OnnxParity.Measure(torchModel, model, train.Concat(test));
        Assert.Equal(900, parity.Images);
        Assert.True(parity.MaxAbsFeatureDifference <= 1e-4, $"max feature difference {parity.MaxAbsFeatureDifference:E2}");
        Assert.True(parity.CodeAgreement >= 0.999, $"codes agree on {parity.CodesEqual} of {parity.Images}");
        Assert.Equal(parity.Images, parity.PredictionsEqual);
    }
}

/// <summary>A test that trains on Fashion-MNIST: skipped, with the reason, where the dataset is not installed.</summary>
public sealed class DatasetFactAttribute : FactAttribute
{
    public DatasetFactAttribute()
    {
        if (!Data.FashionMnist.IsInstalled())
            Skip = $"Fashion-MNIST is not installed in {Data.FashionMnist.DefaultDirectory} (Debian: apt-get install dataset-fashion-mnist)";
    }
}
