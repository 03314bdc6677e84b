using Dpq.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>
/// GET /api/health: whether this app can reach its storage and has a model to serve. Anonymous, for
/// availability tests and load balancers; it names no blob and no secret, only each part's state.
/// </summary>
public sealed class HealthHttpTrigger(HealthCheck health)
{
    [Function("Health")]
    public async Task<IResult> Health(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request, CancellationToken cancellationToken) =>
        HttpAnswerResult.From(HealthAnswer.From(await health.CheckAsync(cancellationToken)));
}
