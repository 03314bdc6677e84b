using Dpq.Query;
using Dpq.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>GET /api/search (the page), /api/thumbnails and /api/failures: behind the function key, as the query is.</summary>
public sealed class SearchPageHttpTrigger(SearchPage page, ThumbnailService thumbnails, QueryHttpHandler handler)
{
    [Function("SearchPage")]
    public IResult Page([HttpTrigger(AuthorizationLevel.Function, "get", Route = "search")] HttpRequest request) =>
        HttpAnswerResult.From(page.Get(request.Headers.IfNoneMatch.FirstOrDefault()));

    [Function("Thumbnail")]
    public async Task<IResult> Thumbnail(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "thumbnails")] HttpRequest request, CancellationToken cancellationToken) =>
        HttpAnswerResult.From(await thumbnails.GetAsync(request.Query["name"].FirstOrDefault(), request.Query["size"].FirstOrDefault(),
            request.Headers.IfNoneMatch.FirstOrDefault(), cancellationToken));

    [Function("Failures")]
    public async Task<IResult> Failures(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "failures")] HttpRequest request, CancellationToken cancellationToken) =>
        HttpAnswerResult.From(await handler.FailuresAsync(request.Query["top"].FirstOrDefault(), cancellationToken));
}
