using System.CommandLine;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Training;

namespace Dpq.Cli;

/// <summary>
/// dpq export-onnx --model DIR: writes feature.onnx (the trained feature network for ONNX Runtime)
/// into a model folder trained before training did so, lists it in model.json, and checks that the
/// folder now opens as serving opens it. The model's version does not change.
/// </summary>
public static class ExportOnnxCommand
{
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "the model folder", "DIR", required: true);
        return new Command("export-onnx", "add the ONNX feature network to a model trained before training wrote it")
            .With(model)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(model), ct));
    }

    private static Task<int> RunAsync(string directory, CancellationToken cancellationToken)
    {
        ModelFiles.ModelManifest manifest;
        try
        {
            manifest = TorchModel.ExportOnnx(directory);
            LoadedModel.Verify(directory);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or NotSupportedException)
        {
            throw new UsageException(e.Message);
        }
        Console.WriteLine($"dpq export-onnx: wrote {Path.Combine(directory, ModelFiles.OnnxInfo.FileName)} for {manifest.Version} "
            + $"({manifest.Files.Onnx!.Bytes / 1024.0:F0} KiB, opset {manifest.Onnx!.Opset}, sha256 {manifest.Files.Onnx.Sha256[..12]}…)");
        return Task.FromResult(0);
    }
}
