using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Dpq.Integration.Tests.Api;

/// <summary>
/// One request the API test sends, with what it should get: <see cref="Status"/> (null: any the document lists), and
/// <see cref="Title"/> for a refusal (null: any). <see cref="NotTitle"/>: a refusal it must not get (at a documented limit, the limit's).
/// </summary>
internal sealed record ApiRequest(string Method, string Path, string Why, int? Status, string? Title = null)
{
    public string Query { get; init; } = "";
    public byte[]? Body { get; init; }
    public string? ContentType { get; init; }
    public string? IfNoneMatch { get; init; }
    public string? NotTitle { get; init; }

    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(new HttpMethod(Method), Path + (Query.Length > 0 ? "?" + Query : ""));
        if (Body is not null)
        {
            message.Content = new ByteArrayContent(Body);
            if (ContentType is not null) message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(ContentType);
        }
        if (IfNoneMatch is not null) message.Headers.TryAddWithoutValidation("If-None-Match", IfNoneMatch);
        return message;
    }

    public static ApiRequest Json(string path, string why, JsonNode? body, int? status, string? title = null) =>
        Raw(path, why, body?.ToJsonString() ?? "null", status, title);

    public static ApiRequest Raw(string path, string why, string body, int? status, string? title = null) =>
        new("POST", path, why, status, title) { Body = Encoding.UTF8.GetBytes(body), ContentType = "application/json; charset=utf-8" };

    public static ApiRequest Image(string query, string why, byte[] image, string? contentType, int status, string? title = null) =>
        new("POST", "/api/query", why, status, title) { Query = query, Body = image, ContentType = contentType };

    public static ApiRequest Get(string path, string query, string why, int status, string? title = null) =>
        new("GET", path, why, status, title) { Query = query };

    public override string ToString() => $"{Method} {Path}{(Query.Length > 0 ? "?" + Truncate(Query) : "")}: {Why}";

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..77] + "...";

    /// <summary>A JSON array of <paramref name="count"/> distinct valid class names.</summary>
    public static JsonArray ClassNames(long count) => [.. Enumerable.Range(1, (int)count).Select(i => JsonValue.Create($"class {i}"))];

    public static JsonNode? Node(JsonElement e) => JsonNode.Parse(e.GetRawText());
}
