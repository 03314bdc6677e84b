using System.ComponentModel.DataAnnotations;

namespace Dpq.Query;

/// <summary>Query-side settings. Bound from configuration section "Query".</summary>
public sealed record QueryOptions
{
    public const string Section = "Query";

    /// <summary>How often the segment catalog is re-read for new codes.</summary>
    public TimeSpan IndexRefreshInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When the held index of the asked-for version is due for a refresh, answer from it and refresh in the
    /// background (one refresh at a time), so no query waits for segment downloads after a compaction.
    /// False: the query that finds it due waits for the refresh (tests that need read-your-writes).
    /// </summary>
    public bool IndexRefreshInBackground { get; init; } = true;

    /// <summary>Threads per scan; 0 = all cores.</summary>
    [Range(0, 256)] public int ScanThreads { get; init; }

    [Range(1, 10_000)] public int MaxK { get; init; } = 1000;

    /// <summary>Whether a host loads the model and the index as it starts (off where a host answers no queries).</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>Largest accepted request body, in bytes.</summary>
    [Range(1, 64 * 1024 * 1024)] public int MaxBodyBytes { get; init; } = 8 * 1024 * 1024;
}
