using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dpq.Integration.Tests;

/// <summary>
/// A local stand-in for the few Azure AI Search REST calls the catalog makes (create or update an index,
/// index documents, search with a filter), which records every request the SDK sends so tests can check them.
/// Filters are evaluated for the subset of OData the tests use: eq/ne/gt/ge/lt/le on strings, numbers and
/// dates, and/or/not, parentheses; results in pages of at most 1,000 with the next page's parameters, as the service pages them. It can be told to fail the next requests, as a service in trouble would.
/// </summary>
public sealed partial class SearchServiceStandIn : IAsyncDisposable
{
    public const string ApiKey = "stand-in-key";
    private const int MaxPage = 1000;

    private readonly Microsoft.AspNetCore.Builder.WebApplication _app;
    private readonly X509Certificate2 _certificate = SelfSigned();
    private int _failNext;
    private int _failStatus;

    public sealed record Request(string Method, string Path, string Query, string? ApiKeyHeader, string Body);

    public Uri Endpoint { get; }
    public ConcurrentQueue<Request> Requests { get; } = new();
    public ConcurrentDictionary<string, JsonObject> Documents { get; } = new();
    public JsonObject? Schema { get; private set; }

    private SearchServiceStandIn(int port)
    {
        Endpoint = new Uri($"https://127.0.0.1:{port}/");
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port, o => o.UseHttps(_certificate)));
        _app = builder.Build();
        Microsoft.AspNetCore.Builder.RunExtensions.Run(_app, ServeAsync);
    }

    public static async Task<SearchServiceStandIn> StartAsync()
    {
        var standIn = new SearchServiceStandIn(LoopbackPort.Free());
        await standIn._app.StartAsync();
        return standIn;
    }

    /// <summary>SDK options whose transport trusts this stand-in's certificate only.</summary>
    public Azure.Search.Documents.SearchClientOptions ClientOptions() => new()
    {
        Transport = new Azure.Core.Pipeline.HttpClientTransport(new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate?.Thumbprint == _certificate.Thumbprint,
        }),
    };

    /// <summary>The next <paramref name="count"/> requests are answered <paramref name="status"/> with no work done.</summary>
    public void FailNext(int count, int status = 503) => (_failStatus, _failNext) = (status, count);

    private async Task ServeAsync(Microsoft.AspNetCore.Http.HttpContext context)
    {
        var body = await new StreamReader(context.Request.Body, Encoding.UTF8).ReadToEndAsync();
        var path = Uri.UnescapeDataString(context.Request.Path.Value ?? "");
        Requests.Enqueue(new Request(context.Request.Method, path, context.Request.QueryString.Value ?? "", context.Request.Headers["api-key"].FirstOrDefault(), body));
        var (status, answer) = Interlocked.Decrement(ref _failNext) >= 0 ? (_failStatus, Error("the stand-in is failing on purpose")) : Answer(context.Request.Method, path, body);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(answer);
    }

    private (int, string) Answer(string method, string path, string body)
    {
        if (method == "PUT" && IndexPath().IsMatch(path))
        {
            Schema = JsonNode.Parse(body)!.AsObject();
            return (201, body);
        }
        if (path.Contains("/docs/", StringComparison.Ordinal) && Schema is null)
            return (404, Error("No index with the name was found in the service")); // as the service answers before the index exists
        if (method == "POST" && path.EndsWith("/docs/search.index", StringComparison.Ordinal))
        {
            var results = new JsonArray();
            foreach (var action in JsonNode.Parse(body)!["value"]!.AsArray())
            {
                var doc = action!.AsObject();
                var key = doc["id"]!.GetValue<string>();
                switch (doc["@search.action"]!.GetValue<string>())
                {
                    case "delete": Documents.TryRemove(key, out _); break;
                    case "mergeOrUpload" or "upload": Documents[key] = (JsonObject)doc.DeepClone(); break;
                    default: return (400, Error("unexpected action"));
                }
                results.Add(new JsonObject { ["key"] = key, ["status"] = true, ["errorMessage"] = null, ["statusCode"] = 200 });
            }
            return (200, new JsonObject { ["value"] = results }.ToJsonString());
        }
        if (method == "POST" && path.EndsWith("/docs/search.post.search", StringComparison.Ordinal))
        {
            var query = JsonNode.Parse(body)!.AsObject();
            Func<JsonObject, bool> match;
            try { match = query["filter"] is { } f ? new ODataFilter(f.GetValue<string>()).Parse() : _ => true; }
            catch (FormatException e) { return (400, Error($"Invalid expression: {e.Message}")); }
            var hits = Documents.Values.Where(match).OrderBy(d => d["id"]!.GetValue<string>(), StringComparer.Ordinal).ToList();
            var top = query["top"]?.GetValue<int>() ?? 50; // the service's default
            var skip = query["skip"]?.GetValue<int>() ?? 0;
            var take = Math.Min(top, MaxPage);
            var select = query["select"]?.GetValue<string>().Split(',') ?? [];
            var value = new JsonArray([.. hits.Skip(skip).Take(take).Select(d =>
            {
                var hit = new JsonObject { ["@search.score"] = 1.0 };
                foreach (var field in select) hit[field] = d[field]?.DeepClone();
                return (JsonNode)hit;
            })]);
            var page = new JsonObject { ["@odata.count"] = hits.Count, ["value"] = value };
            if (top > take && skip + take < hits.Count)
            {
                // As the service does: the rest of what was asked for, as the parameters of the next request.
                var next = (JsonObject)query.DeepClone();
                next["skip"] = skip + take;
                next["top"] = top - take;
                page["@search.nextPageParameters"] = next;
                page["@odata.nextLink"] = $"{Endpoint}indexes('x')/docs/search.post.search?api-version=2024-07-01";
            }
            return (200, page.ToJsonString());
        }
        return (404, Error($"the stand-in does not serve {method} {path}"));
    }

    private static string Error(string message) => new JsonObject { ["error"] = new JsonObject { ["code"] = "", ["message"] = message } }.ToJsonString();

    [GeneratedRegex(@"^/indexes\('[a-z0-9-]+'\)$")]
    private static partial Regex IndexPath();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _certificate.Dispose();
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=search-stand-in", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null); // Kestrel needs the key in a loadable form
    }

    /// <summary>A recursive-descent reader of the OData filter subset above, into a predicate over documents.</summary>
    private sealed partial class ODataFilter(string text)
    {
        private readonly string[] _tokens = [.. Token().Matches(text).Select(m => m.Value)];
        private int _at;

        public Func<JsonObject, bool> Parse()
        {
            var expression = Or();
            if (_at != _tokens.Length) throw new FormatException($"unexpected '{_tokens[_at]}'");
            return expression;
        }

        private Func<JsonObject, bool> Or()
        {
            var left = And();
            while (Next("or")) { var l = left; var r = And(); left = d => l(d) || r(d); }
            return left;
        }

        private Func<JsonObject, bool> And()
        {
            var left = Unary();
            while (Next("and")) { var l = left; var r = Unary(); left = d => l(d) && r(d); }
            return left;
        }

        private Func<JsonObject, bool> Unary()
        {
            if (Next("not")) { var inner = Unary(); return d => !inner(d); }
            if (Next("("))
            {
                var inner = Or();
                if (!Next(")")) throw new FormatException("missing ')'");
                return inner;
            }
            var field = Take();
            if (!FieldName().IsMatch(field)) throw new FormatException($"'{field}' is not a field");
            var op = Take();
            var literal = Take();
            Func<int, bool> holds = op switch
            {
                "eq" => c => c == 0, "ne" => c => c != 0, "gt" => c => c > 0, "ge" => c => c >= 0, "lt" => c => c < 0, "le" => c => c <= 0,
                _ => throw new FormatException($"'{op}' is not a comparison"),
            };
            return d => d[field] is { } v && holds(Compare(v, literal));
        }

        private static int Compare(JsonNode value, string literal)
        {
            if (literal.StartsWith('\''))
                return string.CompareOrdinal(value.GetValue<string>(), literal[1..^1].Replace("''", "'", StringComparison.Ordinal));
            if (double.TryParse(literal, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                return value.GetValue<double>().CompareTo(number);
            if (DateTimeOffset.TryParse(literal, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
                return DateTimeOffset.Parse(value.GetValue<string>(), CultureInfo.InvariantCulture).CompareTo(time);
            throw new FormatException($"'{literal}' is not a literal");
        }

        private bool Next(string token)
        {
            if (_at < _tokens.Length && _tokens[_at] == token) { _at++; return true; }
            return false;
        }

        private string Take() => _at < _tokens.Length ? _tokens[_at++] : throw new FormatException("the filter ends too soon");

        [GeneratedRegex(@"'(?:[^']|'')*'|[()]|[^\s()]+")]
        private static partial Regex Token();

        [GeneratedRegex("^[A-Za-z][A-Za-z0-9]*$")]
        private static partial Regex FieldName();
    }
}
