using System.Runtime;

namespace Dpq.Training;

/// <summary>
/// TorchSharp 0.107 hands doubles to libtorch as Scalar objects that nothing keeps alive during the native call, so a
/// garbage collection in that window can finalize one mid-call (seen as "Expected false to be true" in c10's toFloat
/// inside Adam's addcmul_, and as "Unknown scalar type" in batch norm). A training step or forward pass runs inside a
/// no-GC region: its managed allocations are small, and a collection waits until it ends. Where the runtime cannot open
/// a region (already in one, or the budget does not fit) the step runs as before.
/// </summary>
internal readonly struct NoGcScope : IDisposable
{
    /// <summary>Managed bytes a step may allocate inside the region: far above one batch's arrays.</summary>
    private const long Budget = 64L * 1024 * 1024;

    private readonly bool _active;

    private NoGcScope(bool active) => _active = active;

    public static NoGcScope Enter()
    {
        try
        {
            return new NoGcScope(GC.TryStartNoGCRegion(Budget));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException)
        {
            return new NoGcScope(false);
        }
    }

    public void Dispose()
    {
        // A step that allocated past the budget has left the region already.
        if (_active && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
    }
}
