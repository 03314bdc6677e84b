using System.Text.Json;

namespace Dpq.Integration.Tests.Api;

/// <summary>
/// Checks a JSON value against an OpenAPI 3.0 schema, for the subset of JSON Schema the API's document uses: $ref, type,
/// nullable, required, properties, additionalProperties, items, enum, minimum/maximum, minLength/maxLength,
/// minItems/maxItems, oneOf and allOf. A keyword outside that subset is reported as an error, never skipped, so the
/// document cannot state a constraint that no test checks.
/// </summary>
internal sealed class SchemaValidator(Func<string, JsonElement> resolve)
{
    /// <summary>Keywords that state no constraint on the value.</summary>
    private static readonly HashSet<string> Annotations = ["description", "example", "examples", "default", "format", "title"];

    /// <summary>Every way <paramref name="value"/> breaks <paramref name="schema"/>, each with its JSON path; empty when it fits.</summary>
    public IReadOnlyList<string> Errors(JsonElement schema, JsonElement value)
    {
        var errors = new List<string>();
        Check(schema, value, "$", errors);
        return errors;
    }

    private void Check(JsonElement schema, JsonElement value, string at, List<string> errors)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            Check(resolve(reference.GetString()!), value, at, errors);
            return;
        }
        if (value.ValueKind == JsonValueKind.Null && schema.TryGetProperty("nullable", out var nullable) && nullable.GetBoolean()) return;
        if (schema.TryGetProperty("type", out var type) && !HasType(value, type.GetString()!))
        {
            errors.Add($"{at}: {Describe(value)} is not of type {type.GetString()}");
            return;
        }
        foreach (var keyword in schema.EnumerateObject())
        {
            var rule = keyword.Value;
            switch (keyword.Name)
            {
                case "type" or "nullable":
                    break;
                case "enum":
                    if (!rule.EnumerateArray().Any(allowed => JsonElement.DeepEquals(allowed, value)))
                        errors.Add($"{at}: {Describe(value)} is not one of {rule.GetRawText()}");
                    break;
                case "minimum" when value.ValueKind == JsonValueKind.Number:
                    if (value.GetDouble() < rule.GetDouble()) errors.Add($"{at}: {value.GetRawText()} is below the minimum {rule.GetRawText()}");
                    break;
                case "maximum" when value.ValueKind == JsonValueKind.Number:
                    if (value.GetDouble() > rule.GetDouble()) errors.Add($"{at}: {value.GetRawText()} is above the maximum {rule.GetRawText()}");
                    break;
                case "minLength" when value.ValueKind == JsonValueKind.String:
                    if (value.GetString()!.Length < rule.GetInt32()) errors.Add($"{at}: the string is shorter than {rule.GetInt32()}");
                    break;
                case "maxLength" when value.ValueKind == JsonValueKind.String:
                    if (value.GetString()!.Length > rule.GetInt32()) errors.Add($"{at}: the string is longer than {rule.GetInt32()}");
                    break;
                case "minItems" when value.ValueKind == JsonValueKind.Array:
                    if (value.GetArrayLength() < rule.GetInt32()) errors.Add($"{at}: fewer than {rule.GetInt32()} items");
                    break;
                case "maxItems" when value.ValueKind == JsonValueKind.Array:
                    if (value.GetArrayLength() > rule.GetInt32()) errors.Add($"{at}: more than {rule.GetInt32()} items");
                    break;
                case "items" when value.ValueKind == JsonValueKind.Array:
                    var index = 0;
                    foreach (var item in value.EnumerateArray()) Check(rule, item, $"{at}[{index++}]", errors);
                    break;
                case "required" when value.ValueKind == JsonValueKind.Object:
                    foreach (var name in rule.EnumerateArray().Select(n => n.GetString()!))
                        if (!value.TryGetProperty(name, out _)) errors.Add($"{at}: the required property '{name}' is missing");
                    break;
                case "properties" when value.ValueKind == JsonValueKind.Object:
                    foreach (var property in rule.EnumerateObject())
                        if (value.TryGetProperty(property.Name, out var child)) Check(property.Value, child, $"{at}.{property.Name}", errors);
                    break;
                case "additionalProperties" when value.ValueKind == JsonValueKind.Object:
                    CheckAdditional(schema, rule, value, at, errors);
                    break;
                case "allOf":
                    foreach (var part in rule.EnumerateArray()) Check(part, value, at, errors);
                    break;
                case "oneOf":
                    var fits = rule.EnumerateArray().Count(part => Errors(part, value).Count == 0);
                    if (fits != 1) errors.Add($"{at}: {Describe(value)} fits {fits} of the oneOf schemas, not exactly one");
                    break;
                case "minimum" or "maximum" or "minLength" or "maxLength" or "minItems" or "maxItems" or "items" or "required" or "properties" or "additionalProperties":
                    break; // about another kind of value than this one
                default:
                    if (!Annotations.Contains(keyword.Name)) errors.Add($"{at}: the schema uses '{keyword.Name}', which this validator does not check");
                    break;
            }
        }
    }

    private void CheckAdditional(JsonElement schema, JsonElement rule, JsonElement value, string at, List<string> errors)
    {
        var declared = schema.TryGetProperty("properties", out var properties) ? properties.EnumerateObject().Select(p => p.Name).ToHashSet() : [];
        foreach (var property in value.EnumerateObject().Where(p => !declared.Contains(p.Name)))
        {
            if (rule.ValueKind == JsonValueKind.False) errors.Add($"{at}: the property '{property.Name}' is not in the schema");
            else if (rule.ValueKind == JsonValueKind.Object) Check(rule, property.Value, $"{at}.{property.Name}", errors);
        }
    }

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        _ => throw new InvalidOperationException($"unknown schema type '{type}'"),
    };

    private static string Describe(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length <= 60 ? text : text[..57] + "...";
    }
}
