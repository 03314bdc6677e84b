using System.Reflection;
using System.Text.Json;

namespace Dpq.Integration.Tests.Api;

/// <summary>One operation of the document: its method (upper case), its path and its object.</summary>
internal sealed record ApiOperation(string Method, string Path, JsonElement Element)
{
    public string Key => $"{Method} {Path}";

    public override string ToString() => Key;
}

/// <summary>docs/api/openapi.json as JSON: its operations, with $ref resolved on request and each operation's effective security.</summary>
internal sealed class OpenApiFile
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    public static string RepoRoot { get; } = typeof(OpenApiFile).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepoRoot").Value!;

    public static string FilePath { get; } = System.IO.Path.Combine(RepoRoot, "docs", "api", "openapi.json");

    public JsonElement Root { get; }

    public SchemaValidator Validator { get; }

    public OpenApiFile(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        Root = doc.RootElement.Clone();
        Validator = new SchemaValidator(Resolve);
    }

    public static OpenApiFile Load() => new(File.ReadAllBytes(FilePath));

    public IReadOnlyList<ApiOperation> Operations() =>
        [.. Root.GetProperty("paths").EnumerateObject().SelectMany(path => path.Value.EnumerateObject()
            .Where(m => Methods.Contains(m.Name))
            .Select(m => new ApiOperation(m.Name.ToUpperInvariant(), path.Name, m.Value)))];

    public ApiOperation Operation(string method, string path) =>
        Operations().SingleOrDefault(o => o.Method == method && o.Path == path) ?? throw new Xunit.Sdk.XunitException($"the document has no {method} {path}");

    /// <summary>A "#/..." reference's target.</summary>
    public JsonElement Resolve(string reference)
    {
        if (!reference.StartsWith("#/", StringComparison.Ordinal)) throw new InvalidOperationException($"only local references are used: {reference}");
        var target = Root;
        foreach (var part in reference[2..].Split('/'))
            target = target.TryGetProperty(part.Replace("~1", "/").Replace("~0", "~"), out var next) ? next : throw new Xunit.Sdk.XunitException($"{reference} points nowhere");
        return target;
    }

    /// <summary><paramref name="element"/>, or what its $ref names.</summary>
    public JsonElement Deref(JsonElement element) => element.TryGetProperty("$ref", out var r) ? Deref(Resolve(r.GetString()!)) : element;

    /// <summary>Whether the operation needs a key: its own security, else the document's, names at least one scheme.</summary>
    public bool RequiresKey(ApiOperation operation)
    {
        var security = operation.Element.TryGetProperty("security", out var own) ? own : Root.TryGetProperty("security", out var global) ? global : default;
        return security.ValueKind == JsonValueKind.Array && security.EnumerateArray().Any(requirement => requirement.EnumerateObject().Any());
    }

    /// <summary>The statuses the operation documents, as numbers.</summary>
    public static IReadOnlyList<int> Statuses(ApiOperation operation) =>
        [.. operation.Element.GetProperty("responses").EnumerateObject().Select(r => int.Parse(r.Name, System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The problem titles a documented problem response lists (its schema's title enum); empty for other responses.</summary>
    public IReadOnlyList<string> ProblemTitles(JsonElement response)
    {
        if (!Deref(response).TryGetProperty("content", out var content) || !content.TryGetProperty("application/problem+json", out var problem)) return [];
        return [.. Titles(problem.GetProperty("schema"))];
    }

    private IEnumerable<string> Titles(JsonElement schema)
    {
        schema = Deref(schema);
        if (schema.TryGetProperty("properties", out var properties) && properties.TryGetProperty("title", out var title) && title.TryGetProperty("enum", out var values))
            foreach (var value in values.EnumerateArray()) yield return value.GetString()!;
        if (schema.TryGetProperty("allOf", out var parts))
            foreach (var name in parts.EnumerateArray().SelectMany(Titles)) yield return name;
    }

    /// <summary>The schema of a parameter the operation takes (its own or a referenced one), by name.</summary>
    public JsonElement ParameterSchema(ApiOperation operation, string name) =>
        operation.Element.GetProperty("parameters").EnumerateArray().Select(Deref)
            .Single(p => p.GetProperty("name").GetString() == name).GetProperty("schema");

    /// <summary>The schema of the operation's request body for one media type, $ref resolved.</summary>
    public JsonElement BodySchema(ApiOperation operation, string mediaType) =>
        Deref(operation.Element.GetProperty("requestBody").GetProperty("content").GetProperty(mediaType).GetProperty("schema"));
}
