using System.Text.Json.Serialization;

namespace Dpq.ModelVersions;

/// <summary>
/// Where a model version stands in its lifecycle (docs/lifecycle.md has the state machine). Which version is
/// active is not a state: the registry's pointer says so, and only the pointer.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<VersionState>))]
public enum VersionState
{
    /// <summary>Its index is being filled: every upload and delete reaches it, and the backfill encodes the rest.</summary>
    Building,
    /// <summary>Its index covers every image; it is active or was, and may be activated again (a rollback).</summary>
    Ready,
    /// <summary>It covered every image but was not activated: <see cref="VersionRecord.Reason"/> says why.</summary>
    Rejected,
    /// <summary>Deleted by retention (rows, segments, model files); the record stays as history.</summary>
    Retired,
}

/// <summary>
/// One model version's lifecycle record. Images and Covered: the backfill's last count of the images in
/// storage and of those the version's index holds or that cannot be indexed (a failure record).
/// HeldOutMap: mAP on the held-out split by code length, from its model.json.
/// </summary>
public sealed record VersionRecord(string Version, VersionState State, DateTimeOffset CreatedAt)
{
    public string? Reason { get; init; }
    /// <summary>The train request that made it; null for a version published by hand.</summary>
    public string? RequestId { get; init; }
    /// <summary>The version that was active when it was made.</summary>
    public string? BasedOn { get; init; }
    public IReadOnlyDictionary<int, double> HeldOutMap { get; init; } = new Dictionary<int, double>();
    public long Images { get; init; }
    public long Covered { get; init; }
    public DateTimeOffset? CoveredAt { get; init; }
    /// <summary>When the pointer last named it.</summary>
    public DateTimeOffset? ActivatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}
