namespace Dpq.Storage;

/// <summary>
/// The containers, queues and tables the system uses. A prefix gives tests (and side-by-side
/// deployments) their own fresh set; names stay within every service's naming rules
/// (lowercase letters, digits, dashes for blobs and queues; letters and digits for tables).
/// </summary>
public sealed record StorageNames
{
    public string ImagesContainer { get; init; } = "images";
    /// <summary>Images added by a bulk import (<see cref="Ingest.BulkImporter"/>): no trigger watches it.</summary>
    public string ImportsContainer { get; init; } = "imports";
    public string ModelsContainer { get; init; } = "models";
    public string SegmentsContainer { get; init; } = "segments";
    public string EncodeQueue { get; init; } = "encode-requests";
    public string TrainQueue { get; init; } = "train-requests";
    /// <summary>Where Event Grid delivers the storage account's BlobDeleted events (Azure only: Azurite sends none).</summary>
    public string BlobEventsQueue { get; init; } = "blob-events";
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
            ImportsContainer = $"{prefix}-{d.ImportsContainer}",
            ModelsContainer = $"{prefix}-{d.ModelsContainer}",
            SegmentsContainer = $"{prefix}-{d.SegmentsContainer}",
            EncodeQueue = $"{prefix}-{d.EncodeQueue}",
            TrainQueue = $"{prefix}-{d.TrainQueue}",
            BlobEventsQueue = $"{prefix}-{d.BlobEventsQueue}",
            CodesTable = prefix + d.CodesTable,
            ManifestsTable = prefix + d.ManifestsTable,
            FailuresTable = prefix + d.FailuresTable,
        };
    }

    /// <summary>
    /// The setting names, as the trigger attributes use them (<c>%DPQ_IMAGES_CONTAINER%/{name}</c>),
    /// so one setting names a resource for the triggers and for our own clients alike.
    /// </summary>
    public static class Settings
    {
        public const string ImagesContainer = "DPQ_IMAGES_CONTAINER";
        public const string ImportsContainer = "DPQ_IMPORTS_CONTAINER";
        public const string ModelsContainer = "DPQ_MODELS_CONTAINER";
        public const string SegmentsContainer = "DPQ_SEGMENTS_CONTAINER";
        public const string EncodeQueue = "DPQ_ENCODE_QUEUE";
        public const string TrainQueue = "DPQ_TRAIN_QUEUE";
        public const string BlobEventsQueue = "DPQ_BLOB_EVENTS_QUEUE";
        public const string CodesTable = "DPQ_CODES_TABLE";
        public const string ManifestsTable = "DPQ_MANIFESTS_TABLE";
        public const string FailuresTable = "DPQ_FAILURES_TABLE";
    }

    /// <summary>The names from configuration; any setting left out keeps its default.</summary>
    public static StorageNames FromConfiguration(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var d = Default;
        string Read(string key, string fallback) => configuration[key] is { Length: > 0 } v ? v : fallback;
        return new StorageNames
        {
            ImagesContainer = Read(Settings.ImagesContainer, d.ImagesContainer),
            ImportsContainer = Read(Settings.ImportsContainer, d.ImportsContainer),
            ModelsContainer = Read(Settings.ModelsContainer, d.ModelsContainer),
            SegmentsContainer = Read(Settings.SegmentsContainer, d.SegmentsContainer),
            EncodeQueue = Read(Settings.EncodeQueue, d.EncodeQueue),
            TrainQueue = Read(Settings.TrainQueue, d.TrainQueue),
            BlobEventsQueue = Read(Settings.BlobEventsQueue, d.BlobEventsQueue),
            CodesTable = Read(Settings.CodesTable, d.CodesTable),
            ManifestsTable = Read(Settings.ManifestsTable, d.ManifestsTable),
            FailuresTable = Read(Settings.FailuresTable, d.FailuresTable),
        };
    }

    /// <summary>These names as settings: what a host adds to its configuration so %SETTING% expressions resolve.</summary>
    public IReadOnlyDictionary<string, string?> ToSettings() => new Dictionary<string, string?>
    {
        [Settings.ImagesContainer] = ImagesContainer,
        [Settings.ImportsContainer] = ImportsContainer,
        [Settings.ModelsContainer] = ModelsContainer,
        [Settings.SegmentsContainer] = SegmentsContainer,
        [Settings.EncodeQueue] = EncodeQueue,
        [Settings.TrainQueue] = TrainQueue,
        [Settings.BlobEventsQueue] = BlobEventsQueue,
        [Settings.CodesTable] = CodesTable,
        [Settings.ManifestsTable] = ManifestsTable,
        [Settings.FailuresTable] = FailuresTable,
    };

    public IEnumerable<string> Containers => [ImagesContainer, ImportsContainer, ModelsContainer, SegmentsContainer];
    /// <summary>Where messages that failed too often go: "{queue}-poison", the Functions host's convention.</summary>
    public string EncodePoisonQueue => EncodeQueue + "-poison";

    /// <summary>Where the Functions/WebJobs host puts blob-trigger invocations that failed too often.</summary>
    public const string BlobTriggerPoisonQueue = "webjobs-blobtrigger-poison";

    /// <summary>Where blob events that cannot be read go, as they came.</summary>
    public string BlobEventsPoisonQueue => BlobEventsQueue + "-poison";

    public IEnumerable<string> Queues => [EncodeQueue, EncodePoisonQueue, TrainQueue, BlobTriggerPoisonQueue, BlobEventsQueue, BlobEventsPoisonQueue];
    public IEnumerable<string> Tables => [CodesTable, ManifestsTable, FailuresTable];
}
