using System.Reflection;

namespace Dpq.Training;

/// <summary>
/// The ResNet18 files of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT): the build
/// downloads the package and records its folder here; DPQ_RESNET18_DIR points elsewhere (a folder holding
/// ResNetPrepOnnx/ResNetPreprocess.onnx and ResNet18Onnx/ResNet18.onnx).
/// </summary>
public static class ResNet18Files
{
    public static string Directory =>
        Environment.GetEnvironmentVariable("DPQ_RESNET18_DIR") is { Length: > 0 } dir ? dir
        : typeof(ResNet18Files).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ResNet18Directory").Value!;

    public static byte[] Preprocess => Read(Path.Combine("ResNetPrepOnnx", "ResNetPreprocess.onnx"));

    public static byte[] Network => Read(Path.Combine("ResNet18Onnx", "ResNet18.onnx"));

    private static byte[] Read(string relative)
    {
        var path = Path.Combine(Directory, relative);
        return File.Exists(path) ? File.ReadAllBytes(path)
            : throw new FileNotFoundException($"{path} is missing: restore the solution (it downloads Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1) or set DPQ_RESNET18_DIR", path);
    }
}
