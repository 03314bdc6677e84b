namespace Dpq.Storage;

/// <summary>
/// The containers, queues and tables the system uses. A prefix gives tests (and side-by-side
/// deployments) their own fresh set; names stay within every service's naming rules
/// (lowercase letters, digits, dashes for blobs and queues; letters and digits for tables).
/// </summary>
public sealed record StorageNames
{
    public string ImagesContainer { get; init; } = "images";
    public string ModelsContainer { get; init; } = "models";
    public string SegmentsContainer { get; init; } = "segments";
    public string EncodeQueue { get; init; } = "encode-requests";
    public string CodesTable { get; init; } = "codes";
    public string ManifestsTable { get; init; } = "manifests";
    public string FailuresTable { get; init; } = "failures";

    public static StorageNames Default { get; } = new();

    /// <summary>The default names with <paramref name="prefix"/> (lowercase letters and digits, 1-20) in front.</summary>
    public static StorageNames WithPrefix(string prefix)
    {
        if (prefix.Length is < 1 or > 20 || !prefix.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9') || !char.IsAsciiLetter(prefix[0]))
            throw new ArgumentException($"prefix must be 1-20 lowercase letters and digits, starting with a letter (got '{prefix}')", nameof(prefix));
        var d = Default;
        return new StorageNames
        {
            ImagesContainer = $"{prefix}-{d.ImagesContainer}",
            ModelsContainer = $"{prefix}-{d.ModelsContainer}",
            SegmentsContainer = $"{prefix}-{d.SegmentsContainer}",
            EncodeQueue = $"{prefix}-{d.EncodeQueue}",
            CodesTable = prefix + d.CodesTable,
            ManifestsTable = prefix + d.ManifestsTable,
            FailuresTable = prefix + d.FailuresTable,
        };
    }

    public IEnumerable<string> Containers => [ImagesContainer, ModelsContainer, SegmentsContainer];
    /// <summary>Where messages that failed too often go: "{queue}-poison", the Functions host's convention.</summary>
    public string EncodePoisonQueue => EncodeQueue + "-poison";

    public IEnumerable<string> Queues => [EncodeQueue, EncodePoisonQueue];
    public IEnumerable<string> Tables => [CodesTable, ManifestsTable, FailuresTable];
}
