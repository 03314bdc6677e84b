using System.Text.Json;
using System.Text.Json.Nodes;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.ModelFiles;

namespace Dpq.Integration.Tests.Api;

/// <summary>
/// The running local stack against docs/api/openapi.json: real requests, valid ones and every refusal that can be provoked
/// here, each answered with a status its operation lists, in a media type listed for it, with a body that fits the
/// documented schema; the documented limits are where the app draws them; and every documented answer is either seen
/// here or named below with why it cannot be.
/// </summary>
public sealed class ApiConformanceTests
{
    private const string Query = "/api/query";

    /// <summary>Documented answers ("METHOD path status [title]") this test cannot get from a healthy local stack, and why.</summary>
    private static readonly Dictionary<string, string> NotProvokedHere = new()
    {
        ["POST /api/query 503 Storage unavailable"] = "storage would have to fail before any model is held (ModelServingTests provokes it)",
        ["GET /api/index 503 Storage unavailable"] = "as for the query",
        ["POST /api/admin/retrain 503 Storage unavailable"] = "the train-requests queue would have to be unwritable",
        ["POST /api/query 503 Search catalog unavailable"] = "the stack has no search catalog (SearchCatalogTests provokes it)",
        ["GET /api/health 503"] = "storage would have to fail (HealthTests provokes it)",
        ["POST /api/query 503 No model"] = "the stack always has the tiny model active",
        ["POST /api/query 503 Busy"] = "the host would have to run short of memory while decoding",
        ["POST /api/query 503 Index unavailable"] = "the segments would have to be unreadable",
        ["GET /api/index 503 Index unavailable"] = "as for the query",
        ["GET /api/failures 503 Storage unavailable"] = "storage would have to fail",
        ["GET /api/thumbnails 503 Image changing"] = "a blob would have to be overwritten between two reads of one request",
        ["GET /api/thumbnails 503 Storage unavailable"] = "storage would have to fail",
    };

    [StorageFact]
    public async Task EveryAnswerOfTheRunningAppIsOneTheDocumentDescribesAndTheLimitsAreTheDocumented()
    {
        await using var stack = await RunningStack.StartAsync();
        var images = stack.Storage.Container(stack.Storage.Names.ImagesContainer);
        for (var i = 0; i < 3; i++) await Images.UploadAsync(images, TinyModel.TestImages, i);
        await Images.UploadAsync(images, "unlabelled.png", Images.Png(TinyModel.TestImages, 3), null); // a result whose label is null
        await Images.UploadAsync(images, "bad/corrupt.png", [.. Images.Png(TinyModel.TestImages, 9)[..30], 1, 2, 3], null);
        await stack.WaitForIndexedAsync(4);
        await stack.WaitForFailureAsync("bad/corrupt.png");

        var document = OpenApiFile.Load();
        var conformance = new ResponseConformance(document);
        var seen = new List<SeenAnswer>();
        async Task<HttpResponseMessage> SendAsync(ApiRequest request)
        {
            using var message = request.ToMessage();
            var answer = await stack.Http.SendAsync(message);
            var checkedAnswer = await conformance.CheckAsync(document.Operation(request.Method, request.Path), answer, request.ToString());
            seen.Add(checkedAnswer);
            Assert.True((request.Status is null || request.Status == checkedAnswer.Status) && (request.Title is null || request.Title == checkedAnswer.Title),
                $"{request}: expected {request.Status} {request.Title}, got {checkedAnswer.Status} {checkedAnswer.Title}");
            Assert.True(request.NotTitle is null || request.NotTitle != checkedAnswer.Title, $"{request}: refused as {checkedAnswer.Title}, which it must not be");
            return answer;
        }

        var name = Images.Name(0);
        var label = TinyModel.TestImages.ClassNameOf(0);
        var dimension = ModelFolder.ReadManifest(TinyModel.Directory).D;
        foreach (var request in Requests(name, label, dimension).Concat(Limits(document, name, dimension)).Concat(BodyProperties(document, name)))
            (await SendAsync(request)).Dispose();

        // Revalidation: each ETag the document promises is one the app honours.
        foreach (var (path, query) in new[] { ("/api/search", ""), ("/api/thumbnails", "name=" + Uri.EscapeDataString(name)) })
        {
            using var first = await SendAsync(ApiRequest.Get(path, query, "the first read", 200));
            (await SendAsync(ApiRequest.Get(path, query, "revalidated", 304) with { IfNoneMatch = first.Headers.ETag!.ToString() })).Dispose();
        }
        using var served = await SendAsync(ApiRequest.Get("/api/openapi.json", "", "the document itself", 200));

        // Every documented answer was seen, or is one this stack cannot give (named above); 401 is the Functions host's own.
        var documented = document.Operations().SelectMany(o => o.Element.GetProperty("responses").EnumerateObject()
            .Where(r => r.Name != "401")
            .SelectMany(r => document.ProblemTitles(r.Value) is { Count: > 0 } titles ? titles.Select(t => $"{o.Key} {r.Name} {t}") : [$"{o.Key} {r.Name}"]))
            .ToHashSet();
        var got = seen.Select(s => s.Title is null ? $"{s.Operation.Key} {s.Status}" : $"{s.Operation.Key} {s.Status} {s.Title}").ToHashSet();
        Assert.Subset(documented, got); // (the conformance check already failed on anything undocumented)
        Assert.Equal(documented.Except(got).Order(), NotProvokedHere.Keys.Order());

        var servedBytes = await served.Content.ReadAsByteArrayAsync();
        Assert.True(File.ReadAllBytes(OpenApiFile.FilePath).SequenceEqual(servedBytes),
            "GET /api/openapi.json is not docs/api/openapi.json: the app serves the copy built into it, so rebuild");
    }

    /// <summary>Valid requests of each operation and each refusal that a request alone can provoke.</summary>
    private static IEnumerable<ApiRequest> Requests(string name, string label, int dimension)
    {
        var png = Images.Png(TinyModel.TestImages, 100);
        var imageId = ImageId.FromBlobName(name).ToString();
        JsonArray Vector(int length) => [.. Enumerable.Range(0, length).Select(i => JsonValue.Create(i == 0 ? 0.5f : 0.1f))];

        yield return ApiRequest.Image($"k=5&bits=16&labels={Uri.EscapeDataString(label)}", "a PNG with k, bits and a class", png, "image/png", 200);
        yield return ApiRequest.Image("", "an image without a content type", png, null, 200);
        yield return ApiRequest.Image("k=2", "an image as octet-stream", png, "application/octet-stream", 200);
        yield return ApiRequest.Json(Query, "by blob name", new JsonObject { ["id"] = name }, 200);
        yield return ApiRequest.Json(Query, "by image id, bits and labels", new JsonObject { ["id"] = imageId, ["bits"] = 8, ["labels"] = new JsonArray(label, 3) }, 200);
        yield return ApiRequest.Json(Query, "by vector", new JsonObject { ["vector"] = Vector(dimension), ["k"] = 3 }, 200);

        yield return ApiRequest.Image("", "no body", [], "image/png", 400, "Empty request");
        yield return ApiRequest.Image("", "text", "hello"u8.ToArray(), "text/plain", 400, "Unsupported content type");
        yield return ApiRequest.Raw(Query, "cut-off JSON", "{\"id\":", 400, "Malformed JSON");
        yield return ApiRequest.Raw(Query, "an array", "[]", 400, "Malformed query");
        yield return ApiRequest.Json(Query, "neither id nor vector", new JsonObject { ["k"] = 3 }, 400, "Malformed query");
        yield return ApiRequest.Json(Query, "both id and vector", new JsonObject { ["id"] = name, ["vector"] = Vector(dimension) }, 400, "Malformed query");
        yield return ApiRequest.Json(Query, "an id that is a number", new JsonObject { ["id"] = 5 }, 400, "Invalid id");
        yield return ApiRequest.Json(Query, "a vector that is text", new JsonObject { ["vector"] = "0.1" }, 400, "Invalid vector");
        yield return ApiRequest.Json(Query, "a vector of the wrong length", new JsonObject { ["vector"] = Vector(dimension + 1) }, 400, "Invalid vector");
        yield return ApiRequest.Json(Query, "k as text", new JsonObject { ["id"] = name, ["k"] = "ten" }, 400, "Invalid k");
        yield return ApiRequest.Json(Query, "k not whole", new JsonObject { ["id"] = name, ["k"] = 2.5 }, 400, "Invalid k");
        yield return ApiRequest.Image("k=ten", "k as text", png, "image/png", 400, "Invalid k");
        yield return ApiRequest.Json(Query, "bits the model does not offer", new JsonObject { ["id"] = name, ["bits"] = 7 }, 400, "Invalid bits");
        yield return ApiRequest.Image("bits=0", "no bits", png, "image/png", 400, "Invalid bits");
        yield return ApiRequest.Json(Query, "labels not a list", new JsonObject { ["id"] = name, ["labels"] = label }, 400, "Invalid labels");
        yield return ApiRequest.Json(Query, "a label with a comma", new JsonObject { ["id"] = name, ["labels"] = new JsonArray("a,b") }, 400, "Invalid labels");
        yield return ApiRequest.Json(Query, "an id not indexed", new JsonObject { ["id"] = "no/such.png" }, 400, "Unknown id");
        yield return ApiRequest.Image("", "bytes that are no image", [.. png[..40], 1, 2, 3], "image/png", 400, "Invalid image");

        yield return ApiRequest.Get("/api/index", "", "the status", 200);
        yield return ApiRequest.Get("/api/health", "", "the health probe", 200);
        yield return ApiRequest.Get("/api/failures", "", "the failures", 200);
        yield return ApiRequest.Get("/api/failures", "top=many", "top as text", 400, "Bad top");
        yield return ApiRequest.Get("/api/thumbnails", "name=" + Uri.EscapeDataString(name) + "&size=48", "a thumbnail", 200);
        yield return ApiRequest.Get("/api/thumbnails", "", "no name", 400, "Bad name");
        yield return ApiRequest.Get("/api/thumbnails", "name=" + Uri.EscapeDataString(name) + "&size=big", "size as text", 400, "Bad size");
        yield return ApiRequest.Get("/api/thumbnails", "name=" + Uri.EscapeDataString("no/such.png"), "no such image", 404, "No such image");
        yield return ApiRequest.Get("/api/thumbnails", "name=" + Uri.EscapeDataString("bad/corrupt.png"), "a corrupt image", 422, "Cannot show the image");
        yield return new ApiRequest("POST", "/api/admin/retrain", "a retraining", 202);
    }

    /// <summary>
    /// Each documented limit, read from the document: a value at it is not refused for it, the next one beyond is. The
    /// vector's length is not among them (it must be the model's dimension), nor bits (one of the model's code lengths).
    /// </summary>
    private static IEnumerable<ApiRequest> Limits(OpenApiFile document, string name, int dimension)
    {
        var query = document.Operation("POST", Query);
        var json = document.BodySchema(query, "application/json").GetProperty("properties");
        var thumbnails = document.Operation("GET", "/api/thumbnails");
        var escaped = Uri.EscapeDataString(name);
        JsonObject ById(string property, JsonNode value) => new() { ["id"] = name, [property] = value };
        JsonArray Vector(double first) => [.. Enumerable.Range(0, dimension).Select(i => JsonValue.Create(i == 0 ? first : 0.0))];

        var limits = new (JsonElement Schema, string What, Func<double, int, string?, ApiRequest> Request, int Within, string Below, string Above)[]
        {
            (json.GetProperty("k"), "k in JSON", (v, s, t) => ApiRequest.Json(Query, $"k {v}", ById("k", (long)v), s, t), 200, "Invalid k", "Invalid k"),
            (document.ParameterSchema(query, "k"), "k in the query string", (v, s, t) => ApiRequest.Image($"k={v}", $"k {v}", Images.Png(TinyModel.TestImages, 100), "image/png", s, t), 200, "Invalid k", "Invalid k"),
            (json.GetProperty("labels"), "labels in JSON", (v, s, t) => ApiRequest.Json(Query, $"{v} labels", ById("labels", ApiRequest.ClassNames((long)v)), s, t), 200, "Invalid labels", "Invalid labels"),
            (document.ParameterSchema(query, "labels"), "labels in the query string", (v, s, t) => ApiRequest.Image(
                "labels=" + string.Join(',', ApiRequest.ClassNames((long)v).Select(n => Uri.EscapeDataString(n!.GetValue<string>()))), $"{v} labels", Images.Png(TinyModel.TestImages, 100), "image/png", s, t), 200, "Invalid labels", "Invalid labels"),
            (json.GetProperty("filter"), "filter in JSON", (v, s, t) => ApiRequest.Json(Query, $"a filter of {v} characters", ById("filter", new string('x', (int)v)), s, t), 400, "Invalid filter", "Invalid filter"),
            (document.ParameterSchema(query, "filter"), "filter in the query string", (v, s, t) => ApiRequest.Image("filter=" + new string('x', (int)v), $"a filter of {v} characters", Images.Png(TinyModel.TestImages, 100), "image/png", s, t), 400, "Invalid filter", "Invalid filter"),
            (json.GetProperty("id"), "id", (v, s, t) => ApiRequest.Json(Query, $"an id of {v} characters", new JsonObject { ["id"] = new string('x', (int)v) }, s, t), 400, "Invalid id", "Invalid id"),
            (json.GetProperty("vector").GetProperty("items"), "a vector's values", (v, s, t) => ApiRequest.Json(Query, $"a vector holding {v}", new JsonObject { ["vector"] = Vector(v) }, s, t), 200, "Invalid vector", "Invalid vector"),
            (document.BodySchema(query, "image/png"), "an image body", (v, s, t) => ApiRequest.Image("", $"{v} bytes", new byte[(int)v], "image/png", s, t), 400, "Empty request", "Request too large"),
            (document.ParameterSchema(document.Operation("GET", "/api/failures"), "top"), "top", (v, s, t) => ApiRequest.Get("/api/failures", $"top={v}", $"top {v}", s, t), 200, "Bad top", "Bad top"),
            (document.ParameterSchema(thumbnails, "size"), "size", (v, s, t) => ApiRequest.Get("/api/thumbnails", $"name={escaped}&size={v}", $"size {v}", s, t), 200, "Bad size", "Bad size"),
            (document.ParameterSchema(thumbnails, "name"), "name", (v, s, t) => ApiRequest.Get("/api/thumbnails", "name=" + new string('x', (int)v), $"a name of {v} characters", s, t), 404, "Bad name", "Bad name"),
        };
        foreach (var (schema, what, request, within, below, above) in limits)
        {
            var edges = Edges(schema).ToList();
            Assert.True(edges.Count > 0, $"the document sets no limit on {what}");
            foreach (var (keyword, at, beyond) in edges)
            {
                var title = keyword.StartsWith("min", StringComparison.Ordinal) ? below : above;
                yield return request(at, within, null) with { NotTitle = title };
                yield return request(beyond, 400, title);
            }
        }
    }

    /// <summary>The limits a schema states: the keyword, the value at it and the first one beyond it.</summary>
    private static IEnumerable<(string Keyword, double At, double Beyond)> Edges(JsonElement schema)
    {
        var (low, high) = schema.GetProperty("type").GetString() switch
        {
            "integer" or "number" => ("minimum", "maximum"),
            "string" => ("minLength", "maxLength"),
            "array" => ("minItems", "maxItems"),
            var other => throw new InvalidOperationException($"no limits for type {other}"),
        };
        if (schema.TryGetProperty(low, out var min)) yield return (low, min.GetDouble(), min.GetDouble() - 1);
        if (schema.TryGetProperty(high, out var max)) yield return (high, max.GetDouble(), max.GetDouble() + 1);
    }

    /// <summary>
    /// Each property the JSON query documents is one the app takes (given its example, it is not refused as unknown), and,
    /// as the schema allows no others, one it does not document is refused.
    /// </summary>
    private static IEnumerable<ApiRequest> BodyProperties(OpenApiFile document, string name)
    {
        var schema = document.BodySchema(document.Operation("POST", Query), "application/json");
        foreach (var property in schema.GetProperty("properties").EnumerateObject())
        {
            var example = ApiRequest.Node(property.Value.GetProperty("example"));
            var body = property.Name is "id" or "vector" ? new JsonObject { [property.Name] = example } : new JsonObject { ["id"] = name, [property.Name] = example };
            // The example may not fit the served index or model (an id it does not hold, a vector of another length): any
            // documented answer but that one.
            yield return ApiRequest.Json(Query, $"the documented property {property.Name}", body, null) with { NotTitle = "Unknown property" };
        }
        Assert.False(schema.GetProperty("additionalProperties").GetBoolean());
        yield return ApiRequest.Json(Query, "an undocumented property", new JsonObject { ["id"] = name, ["notAQueryProperty"] = 1 }, 400, "Unknown property");
    }
}
