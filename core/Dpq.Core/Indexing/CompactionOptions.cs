using System.ComponentModel.DataAnnotations;

namespace Dpq.Indexing;

/// <summary>How the worker compacts the index. Bound from configuration section "Compaction".</summary>
public sealed record CompactionOptions
{
    public const string Section = "Compaction";

    /// <summary>Pause between compaction passes.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A pass waits until at least this many deltas are listed.</summary>
    [Range(1, 1000)] public int MinDeltas { get; init; } = 8;

    /// <summary>
    /// Segment files no catalog row lists are deleted once this old (younger ones may be a write in flight); a file a
    /// swap replaced counts from when it was replaced, so hosts that listed it just before still read it.
    /// </summary>
    public TimeSpan OrphanAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Pause between sweeps: unlisted files older than <see cref="OrphanAge"/> are deleted, and catalog rows
    /// whose file is gone are looked for (a blob listing and a catalog read); one found makes the worker rebuild the index from the codes table.
    /// </summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Pause between downloads of every listed file to check its checksum (a damaged one makes the worker rebuild the index).</summary>
    public TimeSpan VerifyInterval { get; init; } = TimeSpan.FromMinutes(15);
}

