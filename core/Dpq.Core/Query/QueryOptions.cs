using System.ComponentModel.DataAnnotations;

namespace Dpq.Query;

/// <summary>Query-side settings. Bound from configuration section "Query".</summary>
public sealed record QueryOptions
{
    public const string Section = "Query";

    /// <summary>How often the segment catalog is re-read for new codes.</summary>
    public TimeSpan IndexRefreshInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Threads per scan; 0 = all cores.</summary>
    [Range(0, 256)] public int ScanThreads { get; init; }

    [Range(1, 10_000)] public int MaxK { get; init; } = 1000;

    /// <summary>Largest accepted request body, in bytes.</summary>
    [Range(1, 64 * 1024 * 1024)] public int MaxBodyBytes { get; init; } = 8 * 1024 * 1024;
}
