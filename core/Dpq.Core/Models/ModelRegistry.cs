using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Dpq.Indexing;

namespace Dpq.Models;

/// <summary>The active model: its version and the ETag of the pointer that named it.</summary>
public sealed record ActiveModel(string Version, ETag ETag);

/// <summary>
/// Trained models in blob storage: the files of each version under "{version}/", and one pointer
/// blob, "active.json", naming the version that encodes and answers queries. The pointer only ever
/// changes by a conditional write against the ETag it was read with.
/// </summary>
public sealed class ModelRegistry(BlobContainerClient container)
{
    public const string PointerBlob = "active.json";
    private const string CompleteMarker = ".complete";

    /// <summary>Uploads a model folder (idempotent: files already there are left alone); returns its version.</summary>
    public async Task<string> PublishAsync(string modelDirectory, CancellationToken cancellationToken = default)
    {
        var version = ReadVersion(modelDirectory);
        foreach (var file in Directory.EnumerateFiles(modelDirectory, "*", SearchOption.AllDirectories).Order())
        {
            var name = $"{version}/{Path.GetRelativePath(modelDirectory, file).Replace('\\', '/')}";
            try
            {
                await container.GetBlobClient(name).UploadAsync(file,
                    new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Already published: model files are immutable per version.
            }
        }
        return version;
    }

    public async Task<ActiveModel?> GetActiveAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var result = await container.GetBlobClient(PointerBlob).DownloadContentAsync(cancellationToken);
            using var doc = JsonDocument.Parse(result.Value.Content.ToMemory());
            var version = doc.RootElement.GetProperty("version").GetString() ?? throw new InvalidDataException($"{PointerBlob} names no version");
            ModelVersion.Validate(version);
            return new ActiveModel(version, result.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>
    /// Points "active" at <paramref name="version"/> if the pointer is still what <paramref name="expected"/>
    /// says (null: no pointer yet). Returns false, changing nothing, when someone else moved it first.
    /// </summary>
    public async Task<bool> ActivateAsync(string version, ActiveModel? expected, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(version);
        if (!await container.GetBlobClient($"{version}/model.json").ExistsAsync(cancellationToken))
            throw new InvalidOperationException($"model {version} is not published: publish it before activating it");
        var body = BinaryData.FromObjectAsJson(new { version, activatedAt = DateTimeOffset.UtcNow });
        var conditions = expected is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = expected.ETag };
        try
        {
            await container.GetBlobClient(PointerBlob).UploadAsync(body, new BlobUploadOptions { Conditions = conditions }, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return false;
        }
    }

    /// <summary>
    /// The local folder holding <paramref name="version"/>'s files, downloaded into
    /// <paramref name="cacheRoot"/> on first use. A folder appears whole or not at all.
    /// </summary>
    public async Task<string> DownloadAsync(string version, string cacheRoot, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(version);
        var target = Path.Combine(cacheRoot, version);
        if (File.Exists(Path.Combine(target, CompleteMarker))) return target;
        var staging = Path.Combine(cacheRoot, $".{version}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var found = false;
            await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Prefix = version + "/" }, cancellationToken))
            {
                var local = Path.Combine(staging, item.Name[(version.Length + 1)..]);
                Directory.CreateDirectory(Path.GetDirectoryName(local)!);
                await container.GetBlobClient(item.Name).DownloadToAsync(local, cancellationToken);
                found = true;
            }
            if (!found) throw new InvalidOperationException($"model {version} has no files in container '{container.Name}'");
            await File.WriteAllTextAsync(Path.Combine(staging, CompleteMarker), version, cancellationToken);
            try
            {
                Directory.Move(staging, target);
            }
            catch (IOException) when (File.Exists(Path.Combine(target, CompleteMarker)))
            {
                // Another process finished the same download first: use its copy.
            }
            return target;
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private static string ReadVersion(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "model.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"no model at {modelDirectory} (model.json missing): run ./dpq train", path);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var version = doc.RootElement.GetProperty("version").GetString() ?? throw new InvalidDataException("model.json has no version");
        ModelVersion.Validate(version);
        return version;
    }
}
