using System.Globalization;
using System.Text.Json;
using Dpq.Indexing;

namespace Dpq.Query;

/// <summary>
/// Reads a query from an HTTP request's parts without depending on any host: the content type,
/// the body, and the query-string parameters. Image bodies (image/png, image/jpeg, image/gif, image/webp, image/bmp,
/// application/octet-stream) take k, bits, labels and filter from the query string; JSON bodies carry
/// them as properties: {"id": "...", "vector": [...], "k": 10, "bits": 16, "labels": ["Bag", "Sandal"], "filter": "label eq 'Bag'"}
/// (labels are class names; numbers are read as their text; filter is OData over the search catalog's fields).
/// Everything wrong throws <see cref="QueryValidationException"/> saying what to fix.
/// </summary>
public static class QueryRequestParser
{
    public const int DefaultK = 10;

    public static QueryRequest Parse(string? contentType, ReadOnlyMemory<byte> body, Func<string, string?> queryParameter, QueryOptions options)
    {
        if (body.Length == 0) throw Invalid("Empty request", "POST an image (PNG, JPEG, GIF, WebP or BMP) or a JSON body with \"id\" or \"vector\".");
        if (body.Length > options.MaxBodyBytes) throw Invalid("Request too large", $"the body has {body.Length} bytes; the limit is {options.MaxBodyBytes}");
        var mediaType = contentType?.Split(';')[0].Trim().ToLowerInvariant();
        return mediaType switch
        {
            "application/json" => ParseJson(body, options),
            "image/png" or "image/jpeg" or "image/gif" or "image/webp" or "image/bmp" or "image/x-ms-bmp" or "application/octet-stream" or null or "" => new QueryRequest(
                body.ToArray(), null, null,
                ParseK(queryParameter("k"), options), ParseBits(queryParameter("bits")), ParseLabels(queryParameter("labels")), CheckFilter(queryParameter("filter"))),
            _ => throw Invalid("Unsupported content type", $"'{contentType}' is not accepted: use image/png, image/jpeg, image/gif, image/webp, image/bmp, application/octet-stream or application/json"),
        };
    }

    private static QueryRequest ParseJson(ReadOnlyMemory<byte> body, QueryOptions options)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw Invalid("Malformed JSON", e.Message);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Invalid("Malformed query", "the JSON body must be an object");
            foreach (var p in root.EnumerateObject())
            {
                string name;
                try
                {
                    name = p.Name;
                }
                catch (InvalidOperationException)
                {
                    throw Invalid("Unknown property", "a property name is not valid text (it holds a lone surrogate escape)");
                }
                if (name is not ("id" or "vector" or "k" or "bits" or "labels" or "filter"))
                    throw Invalid("Unknown property", $"'{name}' is not a query property (id, vector, k, bits, labels, filter)");
            }
            var id = root.TryGetProperty("id", out var idElement) ? ReadId(idElement) : null;
            var vector = root.TryGetProperty("vector", out var v) ? ReadVector(v) : null;
            if ((id is null) == (vector is null)) throw Invalid("Malformed query", "give exactly one of \"id\" and \"vector\" (or POST an image)");
            var k = root.TryGetProperty("k", out var kElement) ? ParseK(ReadNumberText(kElement, "k"), options) : DefaultK;
            var bits = root.TryGetProperty("bits", out var b) ? ParseBits(ReadNumberText(b, "bits")) : null;
            IReadOnlySet<string>? labels = null;
            if (root.TryGetProperty("labels", out var l))
            {
                if (l.ValueKind != JsonValueKind.Array) throw Invalid("Invalid labels", "\"labels\" must be an array of class names");
                labels = CheckLabels(l.EnumerateArray().Select(ReadLabel).ToList());
            }
            var filter = root.TryGetProperty("filter", out var f) ? CheckFilter(ReadFilter(f)) : null;
            return new QueryRequest(null, id, vector, k, bits, labels, filter);
        }
    }

    private static string ReadId(JsonElement e)
    {
        string? s = null;
        try
        {
            if (e.ValueKind == JsonValueKind.String) s = e.GetString();
        }
        catch (InvalidOperationException)
        {
            // An escape that is not valid UTF-16 (a lone surrogate): GetString refuses it.
            throw Invalid("Invalid id", "\"id\" is not valid text (it holds a lone surrogate escape)");
        }
        return s is { Length: > 0 and <= MaxIdLength }
            ? s
            : throw Invalid("Invalid id", $"\"id\" must be a non-empty string of at most {MaxIdLength} characters: an image id or a blob name");
    }

    /// <summary>The longest id a query may name (blob names are at most 1024 characters).</summary>
    public const int MaxIdLength = 1024;

    /// <summary>Longest filter: well above any hand-written one, well below what the search service takes.</summary>
    public const int MaxFilterLength = 2048;

    private static string ReadFilter(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.String) throw Invalid("Invalid filter", "\"filter\" must be a string (an OData filter)");
        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Invalid("Invalid filter", "\"filter\" is not valid text (it holds a lone surrogate escape)");
        }
    }

    private static string? CheckFilter(string? filter) => filter switch
    {
        null => null,
        { Length: 0 } or { Length: > MaxFilterLength } => throw Invalid("Invalid filter", $"a filter is 1 to {MaxFilterLength} characters of OData, e.g. label eq 'Bag' (got {filter.Length})"),
        _ when filter.Any(char.IsControl) => throw Invalid("Invalid filter", "a filter must not hold control characters"),
        _ => filter,
    };

    /// <summary>The largest magnitude a query vector's value may have.</summary>
    public const float MaxVectorValue = 1e6f;

    private static float[] ReadVector(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0) throw Invalid("Invalid vector", "\"vector\" must be a non-empty array of numbers");
        var vector = new float[e.GetArrayLength()];
        var i = 0;
        foreach (var x in e.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number || !x.TryGetSingle(out var f) || !float.IsFinite(f))
                throw Invalid("Invalid vector", $"element {i} of \"vector\" is not a finite number");
            // Features are tanh outputs in [-1, 1]; far larger values would overflow the float
            // lookup tables to infinities and NaN scores, which JSON cannot carry.
            if (Math.Abs(f) > MaxVectorValue)
                throw Invalid("Invalid vector", $"element {i} of \"vector\" is {f}; the values must lie within ±{MaxVectorValue} (features are in [-1, 1])");
            vector[i++] = f;
        }
        return vector;
    }

    private static string ReadNumberText(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Number ? e.GetRawText() : throw Invalid($"Invalid {name}", $"\"{name}\" must be a number");

    private static int ParseK(string? text, QueryOptions options)
    {
        if (text is null) return DefaultK;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var k) && k >= 1 && k <= options.MaxK
            ? k
            : throw Invalid("Invalid k", $"k must be a whole number from 1 to {options.MaxK} (got '{text}')");
    }

    private static int? ParseBits(string? text)
    {
        if (text is null) return null;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var bits) && bits > 0
            ? bits
            : throw Invalid("Invalid bits", $"bits must be a positive whole number (got '{text}')");
    }

    /// <summary>Most class names one query may filter on.</summary>
    public const int MaxLabels = 255;

    private static IReadOnlySet<string>? ParseLabels(string? text) =>
        text is null ? null : CheckLabels([.. text.Split(',', StringSplitOptions.TrimEntries)]);

    /// <summary>A class name given as a JSON string, or as a whole number (integer labels are names too).</summary>
    private static string ReadLabel(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Number)
            return e.TryGetInt64(out var n) ? n.ToString(CultureInfo.InvariantCulture) : throw Invalid("Invalid labels", $"label {e.GetRawText()} is not a whole number or a name");
        if (e.ValueKind != JsonValueKind.String) throw Invalid("Invalid labels", "\"labels\" must hold class names (strings)");
        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Invalid("Invalid labels", "a label is not valid text (it holds a lone surrogate escape)");
        }
    }

    private static IReadOnlySet<string> CheckLabels(IReadOnlyList<string> names)
    {
        if (names.Count == 0) throw Invalid("Invalid labels", "\"labels\" must not be empty (leave it out to search every class)");
        if (names.Count > MaxLabels) throw Invalid("Invalid labels", $"at most {MaxLabels} labels per query (got {names.Count})");
        foreach (var name in names)
            if (ClassLabel.Check(name) is { } problem) throw Invalid("Invalid labels", problem);
        return names.ToHashSet(StringComparer.Ordinal);
    }

    private static QueryValidationException Invalid(string title, string detail) => new(title, detail);
}
