using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Dpq.Data;
using Dpq.Imaging;

namespace Dpq.Cli;

/// <summary>What GET /api/index says.</summary>
internal sealed record IndexState(string? ModelVersion, long Items, IReadOnlyList<int> CodeLengths);

/// <summary>One POST /api/query answer as the demo and the benchmark read it.</summary>
internal sealed record QueryAnswer(double ClientMs, IReadOnlyList<string?> Labels, double ServerTotalMs, double EncodeMs, double ScanMs,
    double ModelMs = double.NaN, double IndexMs = double.NaN, double CopyScanMs = double.NaN, string? FirstBlobName = null, string? FirstMatch = null);

/// <summary>The client side of the query function's HTTP API, shared by the demo and the query benchmark.</summary>
internal static class QueryClient
{
    public static async Task<IndexState> IndexStatusAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync("api/index", cancellationToken));
        var root = doc.RootElement;
        return new IndexState(root.GetProperty("modelVersion").GetString(), root.GetProperty("indexedItems").GetInt64(),
            [.. root.GetProperty("codeLengths").EnumerateArray().Select(e => e.GetInt32())]);
    }

    /// <summary>Waits until the query function serves <paramref name="version"/>; returns its item count.</summary>
    public static async Task<long> WaitForModelAsync(HttpClient http, string version, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 240; i++)
        {
            var status = await IndexStatusAsync(http, cancellationToken);
            if (status.ModelVersion == version) return status.Items;
            await Task.Delay(250, cancellationToken);
        }
        throw new TimeoutException($"the query function did not switch to model {version} within 60 s");
    }

    public static async Task<QueryAnswer> QueryImageAsync(HttpClient http, byte[] file, int bits, int k, CancellationToken cancellationToken,
        string mediaType = "image/png")
    {
        using var content = new ByteArrayContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        var watch = Stopwatch.StartNew();
        using var response = await http.PostAsync($"api/query?k={k}&bits={bits}", content, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var clientMs = watch.Elapsed.TotalMilliseconds;
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"query failed with {(int)response.StatusCode}: {body}");
        using var doc = JsonDocument.Parse(body);
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        var labels = results.Select(r => r.GetProperty("label") is { ValueKind: JsonValueKind.String } l ? l.GetString() : null).ToList();
        var t = doc.RootElement.GetProperty("timingsMs");
        double Get(string name) => t.TryGetProperty(name, out var v) ? v.GetDouble() : double.NaN;
        string? First(string name) => results.Count > 0 && results[0].TryGetProperty(name, out var v) ? v.GetString() : null;
        return new QueryAnswer(clientMs, labels, Get("total"), Get("encode"), Get("scan"), Get("model"), Get("index"), Get("copyScan"), First("blobName"), First("match"));
    }

    /// <summary>One image query of a load run: when it started (seconds on the run's clock), its status (0: no answer), the model version and result count of a 200, and the client's time.</summary>
    public sealed record TimedAnswer(double At, int Status, string? Version, int Results, double Ms);

    /// <summary>
    /// Posts one PNG as a query (k = 10) and never throws for what the service or the connection does. Not
    /// cancellable: a query in flight when a run ends is answered and counted.
    /// </summary>
    public static async Task<TimedAnswer> PostTimedAsync(HttpClient http, byte[] png, double at)
    {
        var watch = Stopwatch.StartNew();
        using var content = new ByteArrayContent(png);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        try
        {
            using var response = await http.PostAsync("api/query?k=10", content, CancellationToken.None);
            var body = await response.Content.ReadAsStringAsync(CancellationToken.None);
            if (!response.IsSuccessStatusCode) return new TimedAnswer(at, (int)response.StatusCode, null, 0, watch.Elapsed.TotalMilliseconds);
            using var doc = JsonDocument.Parse(body);
            return new TimedAnswer(at, (int)response.StatusCode, doc.RootElement.GetProperty("modelVersion").GetString(),
                doc.RootElement.GetProperty("results").GetArrayLength(), watch.Elapsed.TotalMilliseconds);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return new TimedAnswer(at, 0, null, 0, watch.Elapsed.TotalMilliseconds);
        }
    }

    /// <summary>Test images as PNG files, the bytes a user would post.</summary>
    public static byte[][] TestPngs(ImageSet test, IEnumerable<int> indices) =>
        [.. indices.Select(i => ImagePreprocessor.EncodePng(test, i))];

    public static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
