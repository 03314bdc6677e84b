using System.ComponentModel.DataAnnotations;

namespace Dpq.ModelVersions;

/// <summary>How new versions are built, switched in and kept. Bound from configuration section "Lifecycle".</summary>
public sealed record LifecycleOptions
{
    public const string Section = "Lifecycle";

    /// <summary>Most the held-out mAP (at the longest code both versions have) may fall below the active version's for a new version to be activated.</summary>
    [Range(0.0, 1.0)] public double MaxMapDrop { get; init; } = 0.01;

    /// <summary>Versions kept with their index and files; older ones are retired. Never the active one or the one before it.</summary>
    [Range(2, 100)] public int KeepVersions { get; init; } = 3;

    /// <summary>Pause between backfill passes.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a version just activated keeps taking writes as a building one: hosts read the pointer every
    /// <see cref="ModelCacheOptions.RefreshInterval"/>, so one that has not seen the flip yet still writes to it.
    /// </summary>
    public TimeSpan SwitchGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The retraining job's lease on its lock blob (15 to 60 s, as blob leases allow); renewed at a third of it.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Where a retraining job writes its model folder.</summary>
    public string WorkDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "dpq-retrain");

    /// <summary>Times a job is started again after its worker stopped mid-training before it is given up.</summary>
    [Range(1, 100)] public int MaxTrainingAttempts { get; init; } = 3;
}
