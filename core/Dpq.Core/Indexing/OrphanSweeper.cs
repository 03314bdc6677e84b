using Microsoft.Extensions.Logging;

namespace Dpq.Indexing;

/// <summary>Deletes segment files that no catalog row lists: what a write or a swap that failed halfway left behind.</summary>
public sealed class OrphanSweeper(TimeProvider time, ILogger<OrphanSweeper> logger)
{
    /// <summary>Deletes the version's unlisted segment files older than <paramref name="minAge"/> (younger ones may be a write in flight); returns how many.</summary>
    public async Task<int> DeleteOrphansAsync(VersionIndex index, TimeSpan minAge, CancellationToken cancellationToken = default)
    {
        // Files first, rows second: a file whose row is added meanwhile is then seen as listed.
        var files = new List<(string Name, DateTimeOffset Modified)>();
        await foreach (var file in index.Files.ListAsync(cancellationToken)) files.Add(file);
        var listed = (await index.Catalog.ListAsync(cancellationToken)).Select(e => e.BlobName).ToHashSet(StringComparer.Ordinal);
        var cutoff = time.GetUtcNow() - minAge;
        var orphans = files.Where(f => !listed.Contains(f.Name) && f.Modified < cutoff).ToList();
        foreach (var orphan in orphans) await index.Files.DeleteAsync(orphan.Name, cancellationToken);
        if (orphans.Count > 0) logger.LogInformation("Deleted {Count} unlisted segment files of {ModelVersion}", orphans.Count, index.ModelVersion);
        return orphans.Count;
    }
}
