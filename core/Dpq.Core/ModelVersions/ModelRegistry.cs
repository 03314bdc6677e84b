using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Dpq.Indexing;
using Dpq.ModelFiles;

namespace Dpq.ModelVersions;

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

    /// <summary>
    /// Uploads a model folder and returns its version. The folder is first checked as a query host
    /// would load it (hashes, the ONNX file and its shapes), so a model that cannot serve is refused
    /// here. Idempotent: files already stored are left alone; model.json goes last and replaces a
    /// stored one that differs (a model that gained its ONNX file after it was first published).
    /// </summary>
    public async Task<string> PublishAsync(string modelDirectory, CancellationToken cancellationToken = default)
    {
        var version = ReadVersion(modelDirectory);
        LoadedModel.Verify(modelDirectory);
        var manifestPath = Path.Combine(modelDirectory, ModelManifest.FileName);
        foreach (var file in Directory.EnumerateFiles(modelDirectory, "*", SearchOption.AllDirectories).Order())
        {
            if (file == manifestPath) continue;
            var name = BlobName(version, modelDirectory, file);
            try
            {
                await container.GetBlobClient(name).UploadAsync(file,
                    new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Already published: a version's files never change, so a stored one must be this one.
                var stored = await container.GetBlobClient(name).DownloadContentAsync(cancellationToken);
                var local = await File.ReadAllBytesAsync(file, cancellationToken);
                if (!stored.Value.Content.ToMemory().Span.SequenceEqual(local))
                    throw new InvalidOperationException($"model {version} is already published with a different {Path.GetFileName(file)}: "
                        + "a version's files never change (train again for a new version)");
            }
        }
        var manifestBlob = container.GetBlobClient($"{version}/{ModelManifest.FileName}");
        var manifest = BinaryData.FromBytes(await File.ReadAllBytesAsync(manifestPath, cancellationToken));
        try
        {
            await manifestBlob.UploadAsync(manifest, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            var stored = await manifestBlob.DownloadContentAsync(cancellationToken);
            if (!stored.Value.Content.ToMemory().Span.SequenceEqual(manifest.ToMemory().Span))
                await manifestBlob.UploadAsync(manifest, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfMatch = stored.Value.Details.ETag } }, cancellationToken);
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
    /// The local folder holding what serving needs of <paramref name="version"/> (model.json, the
    /// codebooks, the ONNX file), downloaded into <paramref name="cacheRoot"/> on first use and again
    /// when the stored model.json has changed since (its ETag is kept in the folder's completion
    /// marker). A folder appears whole or not at all.
    /// </summary>
    public async Task<string> DownloadAsync(string version, string cacheRoot, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(version);
        var stamp = await ManifestStampAsync(version, cancellationToken)
            ?? throw new InvalidOperationException($"model {version} has no {ModelManifest.FileName} in container '{container.Name}'");
        // One folder per version and model.json ETag: a folder is never changed or deleted once
        // complete, so processes sharing the cache never pull files from under each other.
        var target = Path.Combine(cacheRoot, $"{version}.{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(stamp)))[..12]}");
        if (Stamp(target) == stamp) return target;
        var staging = Path.Combine(cacheRoot, $".{version}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            // model.json as of the ETag read above, then only the files serving reads: the codebooks,
            // the ONNX file and the copy codes (the TorchSharp weights are for training tools and stay in storage).
            await container.GetBlobClient($"{version}/{ModelManifest.FileName}").DownloadToAsync(Path.Combine(staging, ModelManifest.FileName),
                new BlobDownloadToOptions { Conditions = new BlobRequestConditions { IfMatch = new ETag(stamp) } }, cancellationToken);
            var manifest = ModelFolder.ReadManifest(staging);
            foreach (var file in new[] { manifest.Files.Codebooks, manifest.Files.Onnx, manifest.Files.Copies })
            {
                if (file is null) continue;
                if (!ModelFolder.IsPlainFileName(file.Path)) throw new InvalidDataException($"model {version}: model.json names a file outside the folder: '{file.Path}'");
                try
                {
                    await container.GetBlobClient($"{version}/{file.Path}").DownloadToAsync(Path.Combine(staging, file.Path), cancellationToken);
                }
                catch (RequestFailedException e) when (e.Status == 404)
                {
                    throw new InvalidDataException($"model {version}: {file.Path} is listed in model.json but not stored in container '{container.Name}'", e);
                }
            }
            await File.WriteAllTextAsync(Path.Combine(staging, CompleteMarker), stamp, cancellationToken);
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

    /// <summary>The stored model.json of <paramref name="version"/>; null when it is not published.</summary>
    public async Task<ModelManifest?> ReadManifestAsync(string version, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(version);
        try
        {
            var content = await container.GetBlobClient($"{version}/{ModelManifest.FileName}").DownloadContentAsync(cancellationToken);
            return JsonSerializer.Deserialize<ModelManifest>(content.Value.Content.ToMemory().Span, ModelManifest.JsonOptions)
                ?? throw new InvalidDataException($"model {version}: model.json is empty");
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>Deletes every stored file of <paramref name="version"/>, model.json last; refuses the active version.</summary>
    public async Task<int> DeleteVersionAsync(string version, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(version);
        if ((await GetActiveAsync(cancellationToken))?.Version == version)
            throw new InvalidOperationException($"model {version} is active: activate another version before deleting it");
        var names = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, version + "/", cancellationToken)) names.Add(blob.Name);
        // model.json last: a version is published while it has one, so a deletion cut short stays visible.
        foreach (var name in names.OrderBy(n => n.EndsWith("/" + ModelManifest.FileName, StringComparison.Ordinal)))
            await container.GetBlobClient(name).DeleteIfExistsAsync(cancellationToken: cancellationToken);
        return names.Count;
    }

    /// <summary>The ETag of a version's stored model.json (it changes when a republish adds files, such as the copy codes); null when there is none.</summary>
    public async Task<string?> ManifestStampAsync(string version, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(version);
        try
        {
            return (await container.GetBlobClient($"{version}/{ModelManifest.FileName}").GetPropertiesAsync(cancellationToken: cancellationToken)).Value.ETag.ToString();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The model.json ETag a folder made by <see cref="DownloadAsync"/> was downloaded at.</summary>
    public static string? StampOf(string folder) => Stamp(folder);

    private static string? Stamp(string folder)
    {
        var marker = Path.Combine(folder, CompleteMarker);
        return File.Exists(marker) ? File.ReadAllText(marker) : null;
    }

    private static string BlobName(string version, string modelDirectory, string file) =>
        $"{version}/{Path.GetRelativePath(modelDirectory, file).Replace('\\', '/')}";

    private static string ReadVersion(string modelDirectory)
    {
        var version = ModelFolder.ReadManifest(modelDirectory).Version;
        ModelVersion.Validate(version);
        return version;
    }
}
