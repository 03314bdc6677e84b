using Dpq.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>GET /api/openapi.json: the API's OpenAPI document, behind the function key as the routes it describes.</summary>
public sealed class OpenApiHttpTrigger(ApiDocument document)
{
    [Function("OpenApi")]
    public IResult Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "openapi.json")] HttpRequest request) =>
        HttpAnswerResult.From(document.Get());
}
