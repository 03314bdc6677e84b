using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Dpq.Infra.Tests;

/// <summary>
/// The hosts serve with ONNX Runtime alone: none of them references TorchSharp or carries libtorch,
/// and the worker's CUDA build (what its Dockerfile publishes) builds, with the CUDA execution provider
/// and a base image whose CUDA major version is the one that provider needs.
/// </summary>
public sealed partial class InferenceRuntimeTests
{
    private static readonly string Configuration = typeof(InferenceRuntimeTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;

    public static TheoryData<string> Hosts => new() { "functions/Dpq.Functions", "functions/Dpq.LocalHost", "gpu-worker/Dpq.Worker" };

    [Theory]
    [MemberData(nameof(Hosts))]
    public void AHostReferencesNoTorchSharpAndCarriesNoLibtorch(string project)
    {
        var dir = Path.Combine(BicepCli.RepoRoot, project);
        var assets = Path.Combine(dir, "obj", "project.assets.json");
        Assert.True(File.Exists(assets), $"{assets} is missing: restore the solution");
        using var doc = JsonDocument.Parse(File.ReadAllText(assets));
        var libraries = doc.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name).ToList();
        Assert.Contains(libraries, l => l.StartsWith("Microsoft.ML.OnnxRuntime/", StringComparison.Ordinal));
        Assert.DoesNotContain(libraries, l => l.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || l.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase));

        var bin = Path.Combine(dir, "bin", Configuration, "net10.0");
        Assert.True(Directory.Exists(bin), $"{bin} is missing: build the solution");
        var carried = Directory.EnumerateFiles(bin, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Contains("libonnxruntime.so", carried);
        Assert.DoesNotContain(carried, f => f!.StartsWith("libtorch", StringComparison.Ordinal) || f == "TorchSharp.dll" || f == "libLibTorchSharp.so");
    }

    [Fact]
    public async Task TheCudaWorkerBuildsWithTheCudaProviderThatItsImageCanLoad()
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = BicepCli.RepoRoot,
        };
        foreach (var a in new[] { "build", "gpu-worker/Dpq.Worker/Dpq.Worker.csproj", "-c", Configuration, "-p:DpqCuda=true", "--nologo", "-v", "quiet", "-clp:ErrorsOnly" })
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"the CUDA build failed:\n{await stdout}\n{await stderr}");

        var output = Path.Combine(BicepCli.RepoRoot, "gpu-worker", "Dpq.Worker", "bin-cuda", Configuration, "net10.0");
        var files = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).ToList();
        var provider = files.FirstOrDefault(f => Path.GetFileName(f) == "libonnxruntime_providers_cuda.so");
        Assert.True(provider is not null, $"no libonnxruntime_providers_cuda.so in {output}: the CUDA build did not take ONNX Runtime's CUDA package");
        Assert.DoesNotContain(files, f => Path.GetFileName(f).StartsWith("libtorch", StringComparison.Ordinal));

        // The provider links libcudart.so.N; the Dockerfile's CUDA base image must be CUDA N.
        var needed = CudaRuntime().Match(Encoding.ASCII.GetString(File.ReadAllBytes(provider)));
        Assert.True(needed.Success, "the CUDA provider names no libcudart");
        var dockerfile = File.ReadAllText(Path.Combine(BicepCli.RepoRoot, "gpu-worker", "Dockerfile"));
        var image = CudaImage().Match(dockerfile);
        Assert.True(image.Success, "the Dockerfile has no nvidia/cuda base image");
        Assert.Equal(needed.Groups[1].Value, image.Groups[1].Value);
        Assert.Contains("mcr.microsoft.com/dotnet/runtime:10.0", dockerfile); // the .NET runtime from Microsoft's image, not apt
    }

    [GeneratedRegex(@"libcudart\.so\.(\d+)")]
    private static partial Regex CudaRuntime();

    [GeneratedRegex(@"FROM nvidia/cuda:(\d+)\.")]
    private static partial Regex CudaImage();
}
