using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Dpq.Ingest;

namespace Dpq.Cli;

/// <summary>
/// dpq query FILE: posts an image to the query function and prints the answer as a table (rank, score,
/// match, class, blob name), or the service's JSON with --json. The function is --url, else DPQ_QUERY_URL
/// (with DPQ_FUNCTION_KEY as its key in Azure), else the local stack, started if none runs.
/// </summary>
public static class QueryCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "the query image (PNG, JPEG, GIF, WebP or BMP)" };
        file.AcceptExistingOnly();
        var k = CliOptions.Int("--k", "results", 10, 1, 1000);
        var bits = CliOptions.OptionalInt("--bits", "code length to search at (default: the model's longest)", 1, 4096);
        var label = new Option<string[]>("--label") { Description = "keep only this class (repeat for several)", HelpName = "NAME", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var filter = CliOptions.Text("--filter", "restrict the candidates with an OData filter over the search catalog, e.g. \"label eq 'Bag'\" (needs the catalog)", "ODATA");
        var json = CliOptions.Flag("--json", "print the service's JSON answer as it came");
        var url = CliOptions.Text("--url", "the function app (default: DPQ_QUERY_URL, else the local stack)", "URL");
        return new Command("query", "search the index for images like FILE")
            .With(file, k, bits, label, filter, json, url)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(file).FullName, r.GetValue(k), r.GetValue(bits), r.GetValue(label) ?? [], r.GetValue(filter), r.GetValue(json), r.GetValue(url), ct));
    }

    private static async Task<int> RunAsync(string path, int k, int? bits, string[] labels, string? filter, bool json, string? url, CancellationToken cancellationToken)
    {
        foreach (var l in labels)
            if (Indexing.ClassLabel.Check(l) is { } problem) throw new UsageException($"--label {l}: {problem}");
        url ??= Environment.GetEnvironmentVariable("DPQ_QUERY_URL");
        if (string.IsNullOrWhiteSpace(url))
        {
            if (await Scripts.RunAsync("stack.sh", ["start"], cancellationToken) != 0) throw new UsageException("the local stack did not start (see .build/run/*.log)");
            url = await Scripts.OutputAsync("stack.sh", ["url"], cancellationToken);
        }
        var query = new List<string> { $"k={k}" };
        if (bits is { } b) query.Add($"bits={b}");
        if (labels.Length > 0) query.Add("labels=" + Uri.EscapeDataString(string.Join(',', labels)));
        if (filter is { Length: > 0 }) query.Add("filter=" + Uri.EscapeDataString(filter));

        using var http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(60) };
        if (Environment.GetEnvironmentVariable("DPQ_FUNCTION_KEY") is { Length: > 0 } key) http.DefaultRequestHeaders.Add("x-functions-key", key);
        using var content = new ByteArrayContent(await File.ReadAllBytesAsync(path, cancellationToken));
        content.Headers.ContentType = new MediaTypeHeaderValue(ImportFolder.ContentType(path));
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync("api/query?" + string.Join('&', query), content, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new UsageException($"cannot reach the query function at {http.BaseAddress}: {e.Message}");
        }
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (json)
            {
                Console.WriteLine(body);
                return response.IsSuccessStatusCode ? 0 : 1;
            }
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                Console.Error.WriteLine($"dpq query: {(int)response.StatusCode} {response.ReasonPhrase}, not a JSON answer: {(body.Length > 300 ? body[..300] + "…" : body)}");
                return 1;
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (!response.IsSuccessStatusCode)
                {
                    var title = root.TryGetProperty("title", out var t) ? t.GetString() : response.ReasonPhrase;
                    var detail = root.TryGetProperty("detail", out var d) ? d.GetString() : body;
                    Console.Error.WriteLine($"dpq query: {(int)response.StatusCode} {title}: {detail}");
                    return 1;
                }
                Print(root);
                return 0;
            }
        }
    }

    private static void Print(JsonElement root)
    {
        var results = root.GetProperty("results").EnumerateArray().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model {root.GetProperty("modelVersion").GetString()}, {root.GetProperty("bits").GetInt32()} bits, {root.GetProperty("indexedItems").GetInt64()} images indexed"));
        Console.WriteLine($"{"rank",4}  {"score",9}  {"match",-14}  {"class",-20}  blob");
        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            var label = r.TryGetProperty("label", out var l) && l.ValueKind == JsonValueKind.String ? l.GetString() : "-";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{i + 1,4}  {r.GetProperty("score").GetSingle(),9:F3}  {r.GetProperty("match").GetString(),-14}  {label,-20}  {r.GetProperty("blobName").GetString()}"));
        }
        if (results.Count == 0) Console.WriteLine("  (no results: the index is empty, or no image has the classes asked for)");
        var t = root.GetProperty("timingsMs");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"took {t.GetProperty("total").GetDouble():F1} ms in the service (encode {t.GetProperty("encode").GetDouble():F1}, scan {t.GetProperty("scan").GetDouble():F1}, copy scan {t.GetProperty("copyScan").GetDouble():F1})"));
    }
}
