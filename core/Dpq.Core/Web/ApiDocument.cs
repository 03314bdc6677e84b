using Dpq.Query;

namespace Dpq.Web;

/// <summary>
/// GET /api/openapi.json: the OpenAPI document of the HTTP API, docs/api/openapi.json as built into this
/// assembly, so a deployed app describes exactly the API it serves.
/// </summary>
public sealed class ApiDocument
{
    public const string ContentType = "application/json; charset=utf-8";

    private readonly HttpAnswer _answer = new(200, ContentType, WebResources.Bytes("openapi.json"), Headers: new Dictionary<string, string>
    {
        ["Cache-Control"] = "no-cache", // a deployment changes it
        ["X-Content-Type-Options"] = "nosniff",
    });

    public HttpAnswer Get() => _answer;
}
