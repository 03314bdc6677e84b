using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Dpq.Data;
using Dpq.Training;

namespace Dpq.Cli;

/// <summary>
/// dpq parity --model DIR [--json FILE] [--limit N]: encodes the Fashion-MNIST images (all 70,000 by
/// default: training then test) with TorchSharp and with ONNX Runtime and reports how far apart the
/// two are (docs/model.md, "ONNX Runtime parity").
/// </summary>
public static class ParityCommand
{
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "the model folder", "DIR", required: true);
        var json = CliOptions.Text("--json", "where to write the report", "FILE");
        var limit = CliOptions.OptionalInt("--limit", "compare the first N images only", 1);
        var data = CliOptions.Text("--fashion-mnist", "folder of the Fashion-MNIST files", "DIR", defaultValue: FashionMnist.DefaultDirectory);
        return new Command("parity", "ONNX Runtime against TorchSharp on the 70,000 Fashion-MNIST images")
            .With(model, json, limit, data)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(model), r.GetValue(json), r.GetValue(limit) ?? int.MaxValue, r.GetRequiredValue(data), ct));
    }

    private static async Task<int> RunAsync(string directory, string? jsonPath, int limit, string dataDirectory, CancellationToken cancellationToken)
    {

        var images = FashionMnist.Load(DatasetSplit.Train, dataDirectory).Concat(FashionMnist.Load(DatasetSplit.Test, dataDirectory));
        if (limit < images.Count) images = images.Slice(0, limit);
        using var onnx = EvalCommand.OpenModel(directory);
        if (ModelFiles.ModelFolder.ReadManifest(directory).Backbone == Dpq.Onnx.ResNet18Graph.Name)
            throw new UsageException("a resnet18 model's frozen backbone runs only in ONNX Runtime (TorchSharp holds just the layers trained on its features), so there is no TorchSharp side to compare");
        using var torch = TorchModel.Load(directory, TorchSharp.torch.CPU);
        Console.WriteLine($"dpq parity: {torch.Version}, {images.Count} images, TorchSharp (cpu) against ONNX Runtime ({onnx.Provider.Name})");
        var clock = Stopwatch.StartNew();
        var report = OnnxParity.Measure(torch, onnx, images, progress: new ProgressBar("parity", images.Count), cancellationToken: cancellationToken);
        Console.WriteLine($"  max |feature difference| {report.MaxAbsFeatureDifference:E2}, mean {report.MeanAbsFeatureDifference:E2}");
        Console.WriteLine($"  codes equal on {report.CodesEqual} of {report.Images} images ({report.CodeAgreement:P3}), predictions equal on {report.PredictionsEqual}");
        if (jsonPath is not null)
        {
            var json = new
            {
                model = torch.Version,
                images = report.Images,
                max_abs_feature_difference = report.MaxAbsFeatureDifference,
                mean_abs_feature_difference = report.MeanAbsFeatureDifference,
                codes_equal = report.CodesEqual,
                codes_differ = report.Images - report.CodesEqual,
                predictions_equal = report.PredictionsEqual,
                differing_code_images = report.DifferingCodeImages,
                seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            };
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }) + "\n", cancellationToken);
        }
        return report.MaxAbsFeatureDifference <= 1e-4 && report.CodeAgreement >= 0.999 ? 0 : 1;
    }
}
