namespace Dpq.Indexing;

/// <summary>
/// How codes are laid out in Table storage. Every key carries the model version, so codes of two
/// versions never mix: PartitionKey = "{modelVersion}_s{shard:000}", RowKey = image id.
/// </summary>
public static class IndexKeys
{
    public const int DefaultShardCount = 16;

    public static string Partition(string modelVersion, int shard)
    {
        ModelVersion.Validate(modelVersion);
        return $"{modelVersion}_s{shard:000}";
    }

    /// <summary>The partition keys of every shard of a version: from (inclusive) to (exclusive).</summary>
    public static (string From, string To) PartitionRange(string modelVersion)
    {
        ModelVersion.Validate(modelVersion);
        return ($"{modelVersion}_s", $"{modelVersion}_t");
    }

    /// <summary>The shard a partition key names.</summary>
    public static int ShardOf(string partitionKey)
    {
        var at = partitionKey.LastIndexOf("_s", StringComparison.Ordinal);
        return at > 0 && int.TryParse(partitionKey.AsSpan(at + 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var shard)
            ? shard
            : throw new FormatException($"'{partitionKey}' is not a code partition key");
    }
}

/// <summary>Model versions are used in storage keys and blob paths: lowercase letters, digits and dashes.</summary>
public static class ModelVersion
{
    public static void Validate(string version)
    {
        if (string.IsNullOrEmpty(version) || version.Length > 64 || !version.All(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-'))
            throw new ArgumentException($"model version '{version}' must be 1-64 characters of [a-z0-9-]", nameof(version));
    }
}
