using Dpq.Indexing;
using Dpq.ModelVersions;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Catalog;

/// <summary>What a sync did: the version, the documents written, the images whose blob was not found (written without an upload time), and the documents deleted because the index no longer holds their image.</summary>
public sealed record CatalogSyncResult(string ModelVersion, int Mirrored, int WithoutUploadTime, int Pruned = 0);

/// <summary>
/// Fills the search catalog from the index: every code row of one version (the active one by default) mirrored
/// again, with each blob's last-modified time from one listing of the image containers, then the version's
/// documents whose image the index no longer holds deleted. For a catalog turned on after images were indexed,
/// or one that fell behind (a mirror set aside after its retries). Upserts and deletes by key, so it may run at
/// any time and any number of times.
/// </summary>
public sealed class CatalogSync(StorageClients storage, IndexStore store, ModelRegistry registry, ISearchCatalog catalog, ILogger<CatalogSync> logger)
{
    public async Task<CatalogSyncResult> SyncAsync(string? modelVersion = null, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!catalog.IsEnabled) throw new CatalogUnavailableException($"no search catalog is configured (set {SearchCatalogOptions.Section}__endpoint)", notConfigured: true);
        var version = modelVersion ?? (await registry.GetActiveAsync(cancellationToken))?.Version
            ?? throw new InvalidOperationException("no model is active: name the version to sync");
        var index = await store.OpenAsync(version, cancellationToken)
            ?? throw new InvalidOperationException($"version {version} has no index to sync from");

        var uploaded = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var container in new[] { storage.Names.ImagesContainer, storage.Names.ImportsContainer })
            await foreach (var blob in storage.Container(container).GetBlobsAsync(cancellationToken: cancellationToken))
                if (blob.Properties.LastModified is { } at) uploaded[ImageLocation.IndexName(storage.Names, container, blob.Name)] = at;

        int mirrored = 0, unknown = 0;
        var indexed = new HashSet<ImageId>();
        var batch = new List<IndexedImage>(AzureSearchCatalog.MaxBatch);
        async Task FlushAsync()
        {
            if (batch.Count == 0) return;
            await catalog.MirrorAsync(version, batch, [], cancellationToken);
            mirrored += batch.Count;
            progress?.Report(mirrored);
            batch.Clear();
        }
        await foreach (var image in index.Rows.ReadAllAsync(cancellationToken))
        {
            var at = uploaded.TryGetValue(image.BlobName, out var t) ? t : (DateTimeOffset?)null;
            if (at is null) unknown++;
            indexed.Add(image.Id);
            batch.Add(image with { UploadedAt = at });
            if (batch.Count == AzureSearchCatalog.MaxBatch) await FlushAsync();
        }
        await FlushAsync();
        var pruned = await catalog.PruneAsync(version, indexed, cancellationToken);
        logger.LogInformation("Mirrored {Count} images of {ModelVersion} into the search catalog ({Unknown} without a blob); deleted {Pruned} documents of images no longer indexed",
            mirrored, version, unknown, pruned);
        return new CatalogSyncResult(version, mirrored, unknown, pruned);
    }
}
