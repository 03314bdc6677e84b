using Azure;
using Azure.Search.Documents;
using Azure.Search.Documents.Indexes;
using Azure.Search.Documents.Models;
using Dpq.Indexing;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Timeout;

namespace Dpq.Catalog;

/// <summary>
/// The catalog in Azure AI Search. Writers create or update the index schema once per process before their
/// first write (<see cref="SearchCatalogSchema"/>; needs Search Service Contributor); readers only search.
/// Every write is an upsert or a delete by key, so a batch mirrored twice leaves one document per image and
/// version. A write that fails after the retry budget throws <see cref="CatalogUnavailableException"/>, which the
/// encode path treats like a storage fault: the write it belongs to is retried as a whole, later.
/// </summary>
public sealed class AzureSearchCatalog : ISearchCatalog
{
    /// <summary>Most documents in one indexing request (the service's limit).</summary>
    public const int MaxBatch = 1000;
    /// <summary>Most results one search page returns; the SDK follows the service's next pages.</summary>
    private const int PageSize = 1000;

    private readonly SearchCatalogOptions _options;
    private readonly SearchIndexClient _indexes;
    private readonly SearchClient _search;
    private readonly ResiliencePipeline _resilience;
    private readonly ILogger<AzureSearchCatalog> _logger;
    private readonly SemaphoreSlim _schemaLock = new(1, 1);
    private volatile bool _schemaReady;

    public AzureSearchCatalog(SearchCatalogOptions options, ILogger<AzureSearchCatalog> logger, SearchClientOptions? clientOptions = null)
    {
        _options = options;
        _logger = logger;
        var endpoint = options.Endpoint ?? throw new ArgumentException("the search catalog has no endpoint", nameof(options));
        clientOptions ??= new SearchClientOptions();
        clientOptions.Retry.MaxRetries = 0; // SearchCatalogResilience retries
        clientOptions.Retry.NetworkTimeout = options.TryTimeout * 2; // Polly's per-try timeout ends a try first, as a retryable timeout
        _indexes = options.ApiKey is { Length: > 0 } key
            ? new SearchIndexClient(endpoint, new AzureKeyCredential(key), clientOptions)
            : new SearchIndexClient(endpoint, Storage.ComponentCredential.For(options.ClientId), clientOptions);
        _search = _indexes.GetSearchClient(options.IndexName);
        _resilience = SearchCatalogResilience.Create(options);
    }

    public bool IsEnabled => true;

    public async Task MirrorAsync(string modelVersion, IReadOnlyList<IndexedImage> images, IReadOnlyCollection<string> removed, CancellationToken cancellationToken = default)
    {
        if (images.Count + removed.Count == 0) return;
        try
        {
            await EnsureSchemaAsync(cancellationToken);
            foreach (var chunk in images.Select(i => CatalogDocument.From(modelVersion, i)).Chunk(MaxBatch))
                await IndexAsync(IndexDocumentsBatch.MergeOrUpload(chunk), cancellationToken);
            foreach (var chunk in removed.Select(name => CatalogDocument.KeyOf(modelVersion, ImageId.FromBlobName(name))).Chunk(MaxBatch))
                await IndexAsync(IndexDocumentsBatch.Delete("id", chunk), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new CatalogUnavailableException($"mirroring {images.Count} images and {removed.Count} removals of {modelVersion} failed: {Describe(e)}", inner: e);
        }
    }

    public async Task ForgetVersionAsync(string modelVersion, CancellationToken cancellationToken = default)
    {
        var deleted = await PruneAsync(modelVersion, new HashSet<ImageId>(), cancellationToken);
        _logger.LogInformation("Deleted {Count} search documents of retired version {ModelVersion}", deleted, modelVersion);
    }

    public async Task<int> PruneAsync(string modelVersion, IReadOnlySet<ImageId> kept, CancellationToken cancellationToken = default)
    {
        // In key order, a page after the last key seen: unlike skip, this reaches past the service's 100,000-result limit.
        var stale = new List<string>();
        string? after = null;
        while (true)
        {
            var search = new SearchOptions
            {
                Filter = after is null ? VersionFilter(modelVersion) : $"{VersionFilter(modelVersion)} and id gt '{after}'", // keys hold no quote
                Size = PageSize,
                OrderBy = { "id asc" },
                Select = { "id", "imageId" },
            };
            List<DocumentKey> page;
            try
            {
                page = await KeysAsync(search, cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return 0; // no index: nothing was ever mirrored
            }
            stale.AddRange(page.Where(d => d.ImageId is not { Length: 32 } id || !kept.Contains(ImageId.Parse(id))).Select(d => d.Id!));
            if (page.Count < PageSize) break;
            after = page[^1].Id;
        }
        foreach (var chunk in stale.Chunk(MaxBatch)) await IndexAsync(IndexDocumentsBatch.Delete("id", chunk), cancellationToken);
        return stale.Count;
    }

    /// <summary>One page of document keys.</summary>
    private Task<List<DocumentKey>> KeysAsync(SearchOptions search, CancellationToken cancellationToken) =>
        _resilience.ExecuteAsync(async ct =>
        {
            var hits = new List<DocumentKey>();
            await foreach (var hit in (await _search.SearchAsync<DocumentKey>("*", search, ct)).Value.GetResultsAsync().WithCancellation(ct))
            {
                hits.Add(hit.Document);
                if (hits.Count == PageSize) break;
            }
            return hits;
        }, cancellationToken).AsTask();

    public async Task<IReadOnlySet<ImageId>> MatchAsync(string modelVersion, string filter, CancellationToken cancellationToken = default)
    {
        if (ODataFilterScope.Problem(filter) is { } problem) throw new CatalogFilterException($"the filter is not self-contained: {problem}");
        var search = new SearchOptions
        {
            Filter = $"{VersionFilter(modelVersion)} and ({filter})",
            // Every match, up to the limit: the service answers in pages of PageSize and the SDK follows them.
            Size = _options.MaxFilterMatches,
            IncludeTotalCount = true,
            Select = { "imageId" },
        };
        try
        {
            return await _resilience.ExecuteAsync(async ct =>
            {
                var answer = (await _search.SearchAsync<MatchedImage>("*", search, ct)).Value;
                if (answer.TotalCount > _options.MaxFilterMatches)
                    throw new CatalogFilterException($"the filter selects {answer.TotalCount} images; a query can be restricted to at most {_options.MaxFilterMatches}");
                var ids = new HashSet<ImageId>();
                await foreach (var hit in answer.GetResultsAsync().WithCancellation(ct))
                    if (hit.Document.ImageId is { Length: 32 } id) ids.Add(ImageId.Parse(id));
                return (IReadOnlySet<ImageId>)ids;
            }, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 400)
        {
            throw new CatalogFilterException($"the search service refused the filter: {FirstLine(e.Message)}");
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new CatalogUnavailableException($"the search index '{_options.IndexName}' does not exist yet: the worker creates it with its first write, and ./dpq catalog sync fills it from the index", inner: e);
        }
        catch (Exception e) when (e is not CatalogFilterException && (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
        {
            _logger.LogWarning(e, "The search catalog did not answer a filter");
            throw new CatalogUnavailableException($"the search catalog does not answer now ({Describe(e)}); try again shortly, or query without a filter", inner: e);
        }
    }

    private async Task IndexAsync<T>(IndexDocumentsBatch<T> batch, CancellationToken cancellationToken) =>
        await _resilience.ExecuteAsync(async ct =>
            await _search.IndexDocumentsAsync(batch, new IndexDocumentsOptions { ThrowOnAnyError = true }, ct), cancellationToken);

    private async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (_schemaReady) return;
        await _schemaLock.WaitAsync(cancellationToken);
        try
        {
            if (_schemaReady) return;
            await _resilience.ExecuteAsync(async ct =>
                await _indexes.CreateOrUpdateIndexAsync(SearchCatalogSchema.Create(_options.IndexName), cancellationToken: ct), cancellationToken);
            _logger.LogInformation("Search index {Index} is in place at {Endpoint}", _options.IndexName, _options.Endpoint);
            _schemaReady = true;
        }
        finally
        {
            _schemaLock.Release();
        }
    }

    private static string Describe(Exception e) => e switch
    {
        RequestFailedException { Status: 401 or 403 } r => $"the service refused this identity ({r.Status}): check its search roles",
        RequestFailedException { Status: 0 } => "no connection",
        RequestFailedException r => $"the service answered {r.Status}",
        TimeoutRejectedException or OperationCanceledException => "no answer in time",
        _ => e.GetType().Name,
    };

    private static string VersionFilter(string modelVersion) => $"modelVersion eq '{modelVersion.Replace("'", "''", StringComparison.Ordinal)}'";

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();


    private sealed record DocumentKey(
        [property: System.Text.Json.Serialization.JsonPropertyName("id")] string? Id,
        [property: System.Text.Json.Serialization.JsonPropertyName("imageId")] string? ImageId = null);

    private sealed record MatchedImage([property: System.Text.Json.Serialization.JsonPropertyName("imageId")] string? ImageId);
}
