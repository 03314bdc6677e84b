using System.ComponentModel.DataAnnotations;

namespace Dpq.Catalog;

/// <summary>
/// The optional Azure AI Search catalog (section <c>DpqSearch</c>; off while <see cref="Endpoint"/> is unset).
/// In Azure the component signs in with its managed identity (<see cref="ClientId"/>); <see cref="ApiKey"/>
/// is for a service that keeps keys on, or a local stand-in.
/// </summary>
public sealed record SearchCatalogOptions
{
    public const string Section = "DpqSearch";

    /// <summary>The search service, e.g. https://name.search.windows.net; null: no catalog.</summary>
    public Uri? Endpoint { get; init; }

    [RegularExpression("^[a-z0-9][a-z0-9-]{1,127}$", ErrorMessage = "an index name is 2-128 lowercase letters, digits and dashes, starting with a letter or digit")]
    public string IndexName { get; init; } = "dpq-images";

    /// <summary>Client id of a user-assigned managed identity; null: DefaultAzureCredential.</summary>
    public string? ClientId { get; init; }

    public string? ApiKey { get; init; }

    /// <summary>Most images a query's filter may select; AI Search pages through at most 100,000 results of one search.</summary>
    [Range(1, 100_000)]
    public int MaxFilterMatches { get; init; } = 100_000;

    /// <summary>Tries after the first, for answers that may pass (408, 429, 5xx, no connection).</summary>
    [Range(0, 10)]
    public int MaxRetries { get; init; } = 4;

    /// <summary>First wait between tries, doubled each time with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest one try may take.</summary>
    public TimeSpan TryTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public bool IsEnabled => Endpoint is not null;
}
