using Azure;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Dpq.Catalog;

/// <summary>
/// How catalog calls are retried: each try bounded by <see cref="SearchCatalogOptions.TryTimeout"/>, answers
/// that may pass (no connection, 408, 429, 5xx) and timed-out tries tried again up to
/// <see cref="SearchCatalogOptions.MaxRetries"/> times with jittered exponential backoff. The SDK's own retries
/// are off, so this is the one budget.
/// </summary>
public static class SearchCatalogResilience
{
    public static ResiliencePipeline Create(SearchCatalogOptions options)
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                Delay = options.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder().Handle<RequestFailedException>(IsTransient).Handle<HttpRequestException>().Handle<TimeoutRejectedException>(),
            });
        }
        return builder.AddTimeout(options.TryTimeout).Build();
    }

    /// <summary>Status 0 is the SDK's way of saying no answer came (connection refused or reset).</summary>
    public static bool IsTransient(RequestFailedException e) => e.Status is 0 or 408 or 429 or >= 500;
}
