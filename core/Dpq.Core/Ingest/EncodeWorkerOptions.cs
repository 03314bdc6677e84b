using System.ComponentModel.DataAnnotations;
using Dpq.Imaging;
using Dpq.Indexing;

namespace Dpq.Ingest;

/// <summary>How the encode worker drains its queue. Bound from configuration section "Encode".</summary>
public sealed record EncodeWorkerOptions
{
    public const string Section = "Encode";

    /// <summary>Most messages encoded in one forward pass.</summary>
    [Range(1, 4096)] public int BatchSize { get; init; } = 256;

    /// <summary>Longest wait for a batch to fill once its first message has arrived.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Blob downloads in flight at once.</summary>
    [Range(1, 256)] public int DownloadParallelism { get; init; } = 32;

    /// <summary>After this many deliveries a message goes to the poison queue and its image to the failures table.</summary>
    [Range(1, 100)] public int MaxDequeueCount { get; init; } = 5;

    /// <summary>How long a received message stays invisible; a crashed worker's messages reappear after it. A pass renews it while it works.</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Wait before a request that met a storage fault is tried again; it doubles with each attempt, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Tries before a request that keeps meeting storage faults is set aside as poisoned (the reconciler tries
    /// it again later); 30 tries with the default delays wait about 4 hours.
    /// </summary>
    [Range(1, 1000)] public int MaxTransientAttempts { get; init; } = 30;

    /// <summary>
    /// Shards per model version (table partitions, manifest rows, sealed segments). At most 48: a
    /// compaction swaps every shard's sealed catalog row plus some deltas in one 100-action transaction.
    /// </summary>
    [Range(1, 48)] public int ShardCount { get; init; } = IndexKeys.DefaultShardCount;

    /// <summary>Pause between polls of an empty queue.</summary>
    public TimeSpan IdleDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public ImageLimits Limits { get; init; } = ImageLimits.Default;
}
