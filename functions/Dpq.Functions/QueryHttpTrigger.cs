using Dpq.Query;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>POST /api/query (an image, or JSON with an id or a vector), GET /api/index and POST /api/admin/retrain.</summary>
public sealed class QueryHttpTrigger(QueryHttpHandler handler)
{
    [Function("Query")]
    public async Task<IResult> Query(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "query")] HttpRequest request, CancellationToken cancellationToken) =>
        HttpAnswerResult.From(await handler.QueryAsync(request.ContentType, request.Body, k => request.Query[k].FirstOrDefault(), cancellationToken));

    [Function("IndexStatus")]
    public async Task<IResult> Status(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "index")] HttpRequest request, CancellationToken cancellationToken) =>
        HttpAnswerResult.From(await handler.StatusAsync(cancellationToken));

    /// <summary>POST /api/admin/retrain: asks the retraining worker for a new version (function key, as every route here).</summary>
    [Function("Retrain")]
    public async Task<IResult> Retrain(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "admin/retrain")] HttpRequest request, CancellationToken cancellationToken) =>
        HttpAnswerResult.From(await handler.RetrainAsync(cancellationToken));
}
