using System.Globalization;
using System.Text.Json;

namespace Dpq.Integration.Tests.Api;

/// <summary>What one real answer was: which operation, its status, and the problem's title when it was a refusal.</summary>
internal sealed record SeenAnswer(ApiOperation Operation, int Status, string? Title);

/// <summary>
/// Checks a real answer against its operation in the document: the status is one the operation lists, the media type one
/// that response lists (no body where it lists none), a JSON body fits the response's schema, a problem repeats the
/// status, and every header the response marks required is there and fits its schema.
/// </summary>
internal sealed class ResponseConformance(OpenApiFile document)
{
    public async Task<SeenAnswer> CheckAsync(ApiOperation operation, HttpResponseMessage answer, string request)
    {
        var status = (int)answer.StatusCode;
        var body = await answer.Content.ReadAsByteArrayAsync();
        var what = $"{operation.Key} ({request}) answered {status}";
        var responses = operation.Element.GetProperty("responses");
        Assert.True(responses.TryGetProperty(status.ToString(CultureInfo.InvariantCulture), out var documented),
            $"{what}, which the document does not list for it ({string.Join(", ", OpenApiFile.Statuses(operation))}): {Preview(body)}");
        documented = document.Deref(documented);
        CheckHeaders(documented, answer, what);

        if (!documented.TryGetProperty("content", out var content))
        {
            Assert.True(body.Length == 0, $"{what} with a body of {body.Length} bytes, where the document describes none");
            return new SeenAnswer(operation, status, null);
        }
        var mediaType = answer.Content.Headers.ContentType?.MediaType;
        Assert.True(mediaType is not null && content.TryGetProperty(mediaType, out _),
            $"{what} as {mediaType ?? "no media type"}, which the document does not list for that status ({string.Join(", ", content.EnumerateObject().Select(m => m.Name))})");
        if (!IsJson(mediaType!)) return new SeenAnswer(operation, status, null);

        using var json = JsonDocument.Parse(body);
        var errors = document.Validator.Errors(content.GetProperty(mediaType!).GetProperty("schema"), json.RootElement);
        Assert.True(errors.Count == 0, $"{what} with a body that does not fit the documented schema:\n  {string.Join("\n  ", errors)}\nbody: {Preview(body)}");
        if (mediaType != "application/problem+json") return new SeenAnswer(operation, status, null);
        Assert.Equal(status, json.RootElement.GetProperty("status").GetInt32());
        return new SeenAnswer(operation, status, json.RootElement.GetProperty("title").GetString());
    }

    public static bool IsJson(string mediaType) => mediaType == "application/json" || mediaType.EndsWith("+json", StringComparison.Ordinal);

    private void CheckHeaders(JsonElement documented, HttpResponseMessage answer, string what)
    {
        if (!documented.TryGetProperty("headers", out var headers)) return;
        foreach (var header in headers.EnumerateObject())
        {
            var definition = document.Deref(header.Value);
            var values = Values(answer, header.Name);
            if (values is null)
            {
                Assert.False(definition.TryGetProperty("required", out var required) && required.GetBoolean(), $"{what} without the required header {header.Name}");
                continue;
            }
            var schema = document.Deref(definition.GetProperty("schema"));
            var text = string.Join(", ", values);
            using var value = JsonDocument.Parse(schema.GetProperty("type").GetString() is "integer" or "number" ? text : JsonSerializer.Serialize(text));
            var errors = document.Validator.Errors(schema, value.RootElement);
            Assert.True(errors.Count == 0, $"{what} with {header.Name}: {text}, which does not fit its schema: {string.Join("; ", errors)}");
        }
    }

    private static IEnumerable<string>? Values(HttpResponseMessage answer, string name) =>
        answer.Headers.TryGetValues(name, out var values) || answer.Content.Headers.TryGetValues(name, out values) ? values : null;

    private static string Preview(byte[] body)
    {
        var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 400));
        return body.Length > 400 ? text + "..." : text;
    }
}
