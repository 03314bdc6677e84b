namespace Dpq.Diagnostics;

/// <summary>
/// When a worker's loop last finished a pass, for its liveness probe: a loop that stops beating (stuck,
/// not merely failing: a failed pass beats too) is a process to restart.
/// </summary>
public sealed class WorkerHeartbeat(TimeProvider time)
{
    private long _lastBeatTicks = time.GetUtcNow().UtcTicks; // the loop starts counting from the host's start

    /// <summary>Longest a pass may take before the loop counts as stuck: passes last seconds, a slow one minutes.</summary>
    public static TimeSpan MaxSilence { get; } = TimeSpan.FromMinutes(15);

    public void Beat() => Interlocked.Exchange(ref _lastBeatTicks, time.GetUtcNow().UtcTicks);

    public TimeSpan Silence => time.GetUtcNow() - new DateTimeOffset(Interlocked.Read(ref _lastBeatTicks), TimeSpan.Zero);

    public bool IsAlive => Silence <= MaxSilence;
}
