namespace Dpq.Cli.Faults;

/// <summary>Something that happened during a scenario, at a time on its clock (seconds from its first upload).</summary>
public sealed record ScenarioEvent(double At, string What);

/// <summary>Failure records (the failures table) of the scenario's images, by stage, and messages in the encode poison queue.</summary>
public sealed record FailureSummary(int Intake, int Decode, int Poison, int PoisonMessages, int EncodeMessagesLeft);

/// <summary>One scenario's figures, as printed and written to --json.</summary>
public sealed record ScenarioResult
{
    public required string Scenario { get; init; }
    public required string Description { get; init; }
    /// <summary>Image names stored (each once, except in the racing scenario).</summary>
    public required int Images { get; init; }
    /// <summary>Blob writes (uploads and overwrites) handed to intake.</summary>
    public required int Uploads { get; init; }
    public required double FaultStartSeconds { get; init; }
    public required double FaultEndSeconds { get; init; }
    /// <summary>From the fault's end to the first census that found every image indexed; null if none did before the timeout.</summary>
    public required double? RecoverSeconds { get; init; }
    /// <summary>From the first upload to the first complete census.</summary>
    public required double? AllIndexedSeconds { get; init; }
    public required Census AtFaultEnd { get; init; }
    /// <summary>When every image was indexed, or at the timeout.</summary>
    public required Census AtEnd { get; init; }
    /// <summary>After the workers stopped and every delta was compacted into sealed segments.</summary>
    public required Census AfterCompaction { get; init; }
    public required int DeltasCompacted { get; init; }
    public required FailureSummary Failures { get; init; }
    /// <summary>How often each defence acted, from the workers' logs (lines holding the phrase of <see cref="Defences"/>).</summary>
    public required IReadOnlyDictionary<string, int> DefencesActed { get; init; }
    public required IReadOnlyList<ScenarioEvent> Events { get; init; }
    public FaultCounts? Faults { get; init; }
    public DrainTotals? Drains { get; init; }
    public int UploadRetries { get; init; }
    public required IReadOnlyDictionary<string, string> WorkerSettings { get; init; }

    /// <summary>Uploaded and still not in the index at the end (before or after compaction).</summary>
    public int Lost => Math.Max(AtEnd.Missing, AfterCompaction.Missing);
    public int Duplicated => Math.Max(AtEnd.Duplicated, AfterCompaction.Duplicated);
    public int Stale => Math.Max(AtEnd.Stale, AfterCompaction.Stale);
    public bool Held => Lost == 0 && Duplicated == 0 && Stale == 0 && AtEnd.CodeMismatches == 0 && AfterCompaction.CodeMismatches == 0;
}

/// <summary>The log phrases by which a worker says a defence acted, counted per scenario (key: the name in the figures).</summary>
public static class Defences
{
    public static readonly IReadOnlyDictionary<string, string> Phrases = new Dictionary<string, string>
    {
        // EncodeQueueDrainer.RetryLaterAsync: requests that met a storage fault, sent again as new delayed messages.
        ["retriedLater"] = "will be tried again in",
        // EncodeBatchProcessor: one request's read, write or record failed; it alone is retried.
        ["requestRetried"] = "will be retried",
        // EncodeBatchProcessor: the download's If-Match found newer content (412); that content's own request encodes it.
        ["changedSinceRequest"] = "changed since its request",
        // NewerContentCheck: the blob was written again while its code was stored: encoded again.
        ["newerContent"] = "was written again while its code or removal was being stored",
        // MessageLeases: a message's visibility ran out and another receive took it.
        ["leaseLost"] = "was taken by another receiver",
        // EncodeQueueDrainer: a delete or shrink failed; the message reappears and its (idempotent) work is redone.
        ["settleFailed"] = "will reappear",
        // EncodeQueueDrainer.AcceptAsync / RetryLaterAsync: set aside as poisoned.
        ["poisoned"] = "goes to the poison queue",
        // The worker loop: a whole pass threw, and the loop backs off.
        ["passFailed"] = "Drain pass failed",
    };
}
