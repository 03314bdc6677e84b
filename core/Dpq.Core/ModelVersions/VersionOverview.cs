using Azure.Storage.Blobs.Models;
using Dpq.Indexing;
using Dpq.Storage;

namespace Dpq.ModelVersions;

/// <summary>
/// One version as <c>./dpq versions</c> and <c>GET /api/index</c> show it. Status: "active", "building n/N",
/// "ready", "rejected: why", "retired". IndexedItems: the items its segment catalog lists, less the removals
/// listed (exact once compacted). Bytes: its segment files and model files.
/// </summary>
public sealed record VersionSummary(string Version, string Status, VersionState? State, bool Active, long Images, long Covered,
    IReadOnlyDictionary<int, double> HeldOutMap, long IndexedItems, long IndexBytes, long ModelBytes, DateTimeOffset? CreatedAt, DateTimeOffset? ActivatedAt);

/// <summary>Every version with its lifecycle record, its index and its files, newest first.</summary>
public sealed class VersionOverview(StorageClients storage, ModelRegistry registry, VersionRecords records, IndexStore store)
{
    public async Task<IReadOnlyList<VersionSummary>> ListAsync(bool withSizes = true, CancellationToken cancellationToken = default)
    {
        var active = (await registry.GetActiveAsync(cancellationToken))?.Version;
        var byVersion = (await records.ListAsync(cancellationToken)).ToDictionary(r => r.Version, StringComparer.Ordinal);
        // Versions published without a record (before lifecycle records, or by hand) are listed too.
        await foreach (var item in storage.Container(storage.Names.ModelsContainer).GetBlobsByHierarchyAsync(BlobTraits.None, BlobStates.None, "/", null, cancellationToken))
        {
            if (!item.IsPrefix || item.Prefix.StartsWith('_')) continue;
            var version = item.Prefix.TrimEnd('/');
            if (!byVersion.ContainsKey(version) && IsVersionName(version)) byVersion[version] = new VersionRecord(version, VersionState.Ready, DateTimeOffset.MinValue);
        }
        var list = new List<VersionSummary>();
        foreach (var r in byVersion.Values)
        {
            long items = 0, indexBytes = 0, modelBytes = 0;
            if (r.State != VersionState.Retired && await store.OpenAsync(r.Version, cancellationToken) is { } index)
            {
                var entries = await index.Catalog.ListAsync(cancellationToken);
                items = entries.Sum(e => (long)e.Items) - entries.Sum(e => (long)e.Removed);
                if (withSizes) indexBytes = await BytesAsync(storage.Names.SegmentsContainer, r.Version + "/", cancellationToken);
            }
            if (withSizes && r.State != VersionState.Retired) modelBytes = await BytesAsync(storage.Names.ModelsContainer, r.Version + "/", cancellationToken);
            var isActive = r.Version == active;
            var status = isActive ? "active" : r.State switch
            {
                VersionState.Building => $"building {r.Covered}/{r.Images}",
                VersionState.Rejected => $"rejected: {r.Reason}",
                VersionState.Retired => "retired",
                _ => "ready",
            };
            list.Add(new VersionSummary(r.Version, status, r.CreatedAt == DateTimeOffset.MinValue ? null : r.State, isActive, r.Images, r.Covered, r.HeldOutMap,
                items, indexBytes, modelBytes, r.CreatedAt == DateTimeOffset.MinValue ? null : r.CreatedAt, r.ActivatedAt));
        }
        return [.. list.OrderByDescending(s => s.CreatedAt ?? DateTimeOffset.MinValue).ThenByDescending(s => s.Version, StringComparer.Ordinal)];
    }

    private static bool IsVersionName(string name)
    {
        try
        {
            ModelVersion.Validate(name);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private async Task<long> BytesAsync(string container, string prefix, CancellationToken cancellationToken)
    {
        long bytes = 0;
        await foreach (var blob in storage.Container(container).GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken))
            bytes += blob.Properties.ContentLength ?? 0;
        return bytes;
    }
}
