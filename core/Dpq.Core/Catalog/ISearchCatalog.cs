using Dpq.Indexing;

namespace Dpq.Catalog;

/// <summary>
/// A mirror of the index in a search service, kept by whoever writes codes (<see cref="IndexWriter"/>), and
/// what a query's filter is evaluated against. <see cref="DisabledSearchCatalog"/> when none is configured.
/// </summary>
public interface ISearchCatalog
{
    bool IsEnabled { get; }

    /// <summary>Adds or replaces the documents of <paramref name="images"/> for <paramref name="modelVersion"/> and deletes those of <paramref name="removed"/> (blob names).</summary>
    Task MirrorAsync(string modelVersion, IReadOnlyList<IndexedImage> images, IReadOnlyCollection<string> removed, CancellationToken cancellationToken = default);

    /// <summary>Deletes every document of <paramref name="modelVersion"/> (a retired version).</summary>
    Task ForgetVersionAsync(string modelVersion, CancellationToken cancellationToken = default);

    /// <summary>Deletes the documents of <paramref name="modelVersion"/> whose image is not in <paramref name="kept"/>; returns how many.</summary>
    Task<int> PruneAsync(string modelVersion, IReadOnlySet<ImageId> kept, CancellationToken cancellationToken = default);

    /// <summary>The images of <paramref name="modelVersion"/> that match <paramref name="filter"/> (OData).</summary>
    /// <exception cref="CatalogFilterException">the filter is invalid or selects too many images</exception>
    /// <exception cref="CatalogUnavailableException">the service does not answer, or no catalog is configured</exception>
    Task<IReadOnlySet<ImageId>> MatchAsync(string modelVersion, string filter, CancellationToken cancellationToken = default);
}

/// <summary>A filter the caller must change (a 400).</summary>
public sealed class CatalogFilterException(string detail) : Exception(detail);

/// <summary>The catalog cannot answer (a 503), or there is none (<see cref="NotConfigured"/>: a 400, the caller asked for what this deployment lacks).</summary>
public sealed class CatalogUnavailableException(string detail, bool notConfigured = false, Exception? inner = null) : Exception(detail, inner)
{
    public bool NotConfigured { get; } = notConfigured;
}

/// <summary>No catalog: writes mirror nothing and a filter is refused with the setting to add.</summary>
public sealed class DisabledSearchCatalog : ISearchCatalog
{
    public bool IsEnabled => false;

    public Task MirrorAsync(string modelVersion, IReadOnlyList<IndexedImage> images, IReadOnlyCollection<string> removed, CancellationToken cancellationToken = default) =>
        Task.CompletedTask;

    public Task ForgetVersionAsync(string modelVersion, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task<int> PruneAsync(string modelVersion, IReadOnlySet<ImageId> kept, CancellationToken cancellationToken = default) => Task.FromResult(0);

    public Task<IReadOnlySet<ImageId>> MatchAsync(string modelVersion, string filter, CancellationToken cancellationToken = default) =>
        throw new CatalogUnavailableException($"a filter needs the search catalog, which this deployment does not have (set {SearchCatalogOptions.Section}__endpoint)", notConfigured: true);
}
