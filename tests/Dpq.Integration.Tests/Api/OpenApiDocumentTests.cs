using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.OpenApi;

namespace Dpq.Integration.Tests.Api;

/// <summary>docs/api/openapi.json on its own, and against the routes both hosts serve (see <see cref="ApiConformanceTests"/> for the answers).</summary>
public sealed class OpenApiDocumentTests
{
    /// <summary>Routes the local host serves that are not part of the API: the front door redirects to the search page.</summary>
    private static readonly Dictionary<string, string> LocalOnly = new() { ["GET /"] = "the local front door: a redirect to /api/search" };

    [Fact]
    public void TheDocumentIsValidOpenApiAndEveryExampleFitsItsSchema()
    {
        var bytes = File.ReadAllBytes(OpenApiFile.FilePath);
        var read = OpenApiDocument.Load(new MemoryStream(bytes), "json");
        Assert.NotNull(read.Document);
        Assert.Equal(OpenApiSpecVersion.OpenApi3_0, read.Diagnostic!.SpecificationVersion);
        Assert.True(read.Diagnostic.Errors.Count == 0, "reading: " + string.Join("; ", read.Diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.True(read.Diagnostic.Warnings.Count == 0, "reading: " + string.Join("; ", read.Diagnostic.Warnings.Select(e => $"{e.Pointer}: {e.Message}")));
        var invalid = read.Document.Validate(ValidationRuleSet.GetDefaultRuleSet())?.ToList() ?? [];
        Assert.True(invalid.Count == 0, "validating: " + string.Join("; ", invalid.Select(e => $"{e.Pointer}: {e.Message}")));

        var document = new OpenApiFile(bytes);
        var examples = Examples(document.Root, "#").ToList();
        Assert.True(examples.Count >= 20, $"only {examples.Count} examples were found: the walk below misses them");
        foreach (var (pointer, schema, example) in examples)
        {
            var errors = document.Validator.Errors(schema, example);
            Assert.True(errors.Count == 0, $"the example at {pointer} does not fit its schema: {string.Join("; ", errors)}");
        }
        var operationIds = document.Operations().Select(o => o.Element.GetProperty("operationId").GetString()).ToList();
        Assert.Equal(operationIds.Distinct().Count(), operationIds.Count);
    }

    [Fact]
    public async Task EveryRouteOfBothHostsIsDocumentedAndEveryDocumentedOneIsServedByBothWithItsKeyRule()
    {
        var document = OpenApiFile.Load();
        var documented = document.Operations().Select(o => o.Key).Order().ToList();

        // Built, not started: the endpoints exist once the routes are mapped.
        await using var app = LocalHost.LocalHost.Build([], c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["DpqStorage"] = "UseDevelopmentStorage=true" }));
        var local = HostRoutes.Local(app);
        Assert.Subset(local.Select(r => r.Key).ToHashSet(), LocalOnly.Keys.ToHashSet()); // each exception still exists
        Assert.Equal(documented, local.Select(r => r.Key).Where(k => !LocalOnly.ContainsKey(k)).Order());

        var functions = HostRoutes.Functions();
        Assert.Equal(documented, functions.Select(r => r.Key).Order());
        foreach (var route in functions)
        {
            var operation = document.Operation(route.Method, route.Path);
            Assert.True(route.RequiresKey == document.RequiresKey(operation),
                $"{route.Key}: the Functions app {(route.RequiresKey ? "requires" : "needs no")} key, the document says {(document.RequiresKey(operation) ? "it does" : "none")}");
            // The Functions host itself refuses a request without a valid key: the operations that need one document that 401.
            Assert.True(route.RequiresKey == OpenApiFile.Statuses(operation).Contains(401), $"{route.Key}: 401 is documented if and only if a key is required");
        }
    }

    [Fact]
    public void TheHttpExamplesCoverEveryOperationAnImageUploadAndTheirJsonFitsTheDocument()
    {
        var document = OpenApiFile.Load();
        var examples = HttpExamples.Read();
        Assert.Equal(document.Operations().Select(o => o.Key).Order(), examples.Select(e => $"{e.Method} {e.Path}").Distinct().Order());
        Assert.Contains(examples, e => e.BodyFile is not null && e.ContentType!.StartsWith("image/", StringComparison.Ordinal));
        foreach (var example in examples.Where(e => e.Body.Length > 0 || e.BodyFile is not null))
        {
            var operation = document.Operation(example.Method, example.Path);
            var content = operation.Element.GetProperty("requestBody").GetProperty("content");
            Assert.True(example.ContentType is not null && content.TryGetProperty(example.ContentType, out _), $"{example.Title}: the document takes no {example.ContentType} body");
            if (!ResponseConformance.IsJson(example.ContentType)) continue;
            using var body = JsonDocument.Parse(example.Body);
            var errors = document.Validator.Errors(document.BodySchema(operation, example.ContentType), body.RootElement);
            Assert.True(errors.Count == 0, $"{example.Title}: the body does not fit the documented schema: {string.Join("; ", errors)}");
        }
    }

    /// <summary>Every example in the document with the schema it illustrates: media types' and parameters' example(s), and schemas' own.</summary>
    private static IEnumerable<(string Pointer, JsonElement Schema, JsonElement Example)> Examples(JsonElement node, string pointer)
    {
        if (node.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in node.EnumerateArray())
                foreach (var found in Examples(item, $"{pointer}/{i++}")) yield return found;
            yield break;
        }
        if (node.ValueKind != JsonValueKind.Object) yield break;
        // An object with a schema (a media type, a parameter) gives examples of that schema; one without is a schema itself.
        var schema = node.TryGetProperty("schema", out var s) ? s : node;
        if (node.TryGetProperty("example", out var example)) yield return ($"{pointer}/example", schema, example);
        if (node.TryGetProperty("examples", out var named))
            foreach (var e in named.EnumerateObject()) yield return ($"{pointer}/examples/{e.Name}", schema, e.Value.GetProperty("value"));
        foreach (var child in node.EnumerateObject().Where(c => c.Name is not ("example" or "examples")))
            foreach (var found in Examples(child.Value, $"{pointer}/{child.Name}")) yield return found;
    }
}
