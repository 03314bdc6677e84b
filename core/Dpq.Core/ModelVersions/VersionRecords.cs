using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Dpq.Indexing;

namespace Dpq.ModelVersions;

/// <summary>
/// The lifecycle records of every version: one JSON blob per version, "_versions/{version}.json" in the
/// models container (a version name has no underscore, so no model folder is ever named so). A record
/// changes only by a write conditional on the ETag it was read with; <see cref="UpdateAsync"/> reads and
/// retries until its change lands on the newest record.
/// </summary>
public sealed class VersionRecords(BlobContainerClient container, TimeProvider time)
{
    private const string Prefix = "_versions/";

    private static BlobClient BlobOf(BlobContainerClient container, string version)
    {
        ModelVersion.Validate(version);
        return container.GetBlobClient($"{Prefix}{version}.json");
    }

    public async Task<VersionRecord?> GetAsync(string version, CancellationToken cancellationToken = default) =>
        (await ReadAsync(version, cancellationToken))?.Record;

    /// <summary>Adds <paramref name="record"/>; false, changing nothing, when the version has one already.</summary>
    public async Task<bool> CreateAsync(VersionRecord record, CancellationToken cancellationToken = default)
    {
        try
        {
            await BlobOf(container, record.Version).UploadAsync(Serialize(record with { UpdatedAt = time.GetUtcNow() }),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return false;
        }
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the newest record of <paramref name="version"/> (null from it: no change);
    /// returns the record as stored afterwards, or null when the version has none.
    /// </summary>
    public async Task<VersionRecord?> UpdateAsync(string version, Func<VersionRecord, VersionRecord?> change, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (await ReadAsync(version, cancellationToken) is not { } read) return null;
            if (change(read.Record) is not { } changed) return read.Record;
            changed = changed with { UpdatedAt = time.GetUtcNow() };
            try
            {
                await BlobOf(container, version).UploadAsync(Serialize(changed),
                    new BlobUploadOptions { Conditions = new BlobRequestConditions { IfMatch = read.ETag } }, cancellationToken);
                return changed;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412 && attempt < 20)
            {
                // Changed since it was read: apply the change to the newer record.
            }
        }
    }

    /// <summary>Every record, oldest first.</summary>
    public async Task<IReadOnlyList<VersionRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var records = new List<VersionRecord>();
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, Prefix, cancellationToken))
        {
            var version = blob.Name[Prefix.Length..^".json".Length];
            if (await GetAsync(version, cancellationToken) is { } record) records.Add(record);
        }
        return [.. records.OrderBy(r => r.CreatedAt).ThenBy(r => r.Version, StringComparer.Ordinal)];
    }

    private async Task<(VersionRecord Record, ETag ETag)?> ReadAsync(string version, CancellationToken cancellationToken)
    {
        try
        {
            var download = await BlobOf(container, version).DownloadContentAsync(cancellationToken);
            var record = JsonSerializer.Deserialize(download.Value.Content.ToMemory().Span, LifecycleJson.Default.VersionRecord)
                ?? throw new InvalidDataException($"the record of {version} is empty");
            return (record, download.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the record of {version} is not valid: {e.Message}", e);
        }
    }

    private static BinaryData Serialize(VersionRecord record) => BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(record, LifecycleJson.Default.VersionRecord));
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(VersionRecord))]
[JsonSerializable(typeof(RetrainJobState))]
public sealed partial class LifecycleJson : JsonSerializerContext;
