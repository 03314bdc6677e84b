using Dpq.Indexing;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>
/// Keeps <see cref="LifecycleOptions.KeepVersions"/> versions with their index and files: the active one, the
/// one active before it and those being built always, then the newest others. The rest are retired: their
/// record is marked retired, then their index (rows, segment files, catalog), their search-catalog documents and model files are deleted.
/// </summary>
public sealed class VersionRetention(ModelRegistry registry, VersionRecords records, IndexStore store, Catalog.ISearchCatalog catalog, LifecycleOptions options,
    ILogger<VersionRetention> logger)
{
    /// <summary>Retires what is beyond the count; returns the versions retired.</summary>
    public async Task<IReadOnlyList<string>> ApplyAsync(CancellationToken cancellationToken = default)
    {
        var active = (await registry.GetActiveAsync(cancellationToken))?.Version;
        var live = (await records.ListAsync(cancellationToken)).Where(r => r.State != VersionState.Retired).ToList();
        var previous = live.Where(r => r.Version != active && r.ActivatedAt is not null).MaxBy(r => r.ActivatedAt)?.Version;
        var kept = live.Where(r => r.Version == active || r.Version == previous || r.State == VersionState.Building).Select(r => r.Version).ToHashSet(StringComparer.Ordinal);
        foreach (var r in live.Where(r => !kept.Contains(r.Version)).OrderByDescending(r => r.CreatedAt))
        {
            if (kept.Count >= options.KeepVersions) break;
            kept.Add(r.Version);
        }
        var retired = new List<string>();
        foreach (var r in live.Where(r => !kept.Contains(r.Version)))
        {
            // Retired first: a rollback refuses it from then on, so nothing points at files being deleted.
            await records.UpdateAsync(r.Version, x => x with { State = VersionState.Retired, Reason = $"beyond the {options.KeepVersions} versions kept" }, cancellationToken);
            await store.DeleteVersionAsync(r.Version, cancellationToken);
            try
            {
                await catalog.ForgetVersionAsync(r.Version, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Harmless if left: a filter only ever selects the active version's documents.
                logger.LogWarning(e, "The search documents of retired model {ModelVersion} could not be deleted; they stay, unused", r.Version);
            }
            await registry.DeleteVersionAsync(r.Version, cancellationToken);
            logger.LogInformation("Retired model {ModelVersion}: its index and files are deleted", r.Version);
            retired.Add(r.Version);
        }
        return retired;
    }
}
