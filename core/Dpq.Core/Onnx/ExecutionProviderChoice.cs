namespace Dpq.Onnx;

/// <summary>The execution provider a session runs on ("cuda" or "cpu") and, for the CPU, why.</summary>
public sealed record ExecutionProviderChoice(string Name, string Reason)
{
    public const string CudaProvider = "CUDAExecutionProvider";

    public bool IsGpu => Name == "cuda";

    public static ExecutionProviderChoice Cuda() => new("cuda", "CUDA execution provider on GPU 0");

    /// <summary>
    /// The policy: CUDA when asked for, built in (<paramref name="available"/> lists it) and able to
    /// start; otherwise the CPU, with the reason. <paramref name="createCuda"/> failing with an ONNX
    /// Runtime error or a missing native library (no driver, no CUDA libraries, no device) falls
    /// back to <paramref name="createCpu"/>.
    /// </summary>
    public static (T Session, ExecutionProviderChoice Choice) Create<T>(bool preferGpu, IReadOnlyCollection<string> available,
        Func<T> createCuda, Func<T> createCpu)
    {
        Exception? gpuError = null;
        if (preferGpu && available.Contains(CudaProvider))
        {
            try
            {
                return (createCuda(), Cuda());
            }
            catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                gpuError = e;
            }
        }
        return (createCpu(), CpuBecause(preferGpu, available, gpuError));
    }

    /// <summary>The CPU, with the reason the GPU was not used.</summary>
    public static ExecutionProviderChoice CpuBecause(bool preferGpu, IReadOnlyCollection<string> available, Exception? gpuError) =>
        new("cpu", !preferGpu ? "the GPU is turned off (Inference:PreferGpu=false)"
            : !available.Contains(CudaProvider) ? "this build has no CUDA execution provider (build with -p:DpqCuda=true for one)"
            : $"the CUDA execution provider could not start, so no usable GPU is visible ({FirstLine(gpuError?.Message)})");

    public override string ToString() => $"{Name}: {Reason}";

    private static string FirstLine(string? message) => message is null ? "no error" : message.Split('\n')[0].Trim();
}
