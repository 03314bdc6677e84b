using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Dpq.Query;

/// <summary>An HTTP answer without a host: status, media type, a body (JSON, a page or an image) and any further headers.</summary>
public sealed record HttpAnswer(int Status, string ContentType, byte[] Body, TimeSpan? RetryAfter = null, IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>RFC 9457 problem details.</summary>
public sealed record ProblemDetails(string Type, string Title, int Status, string Detail);

/// <summary>Answers that refuse: problem details with the status and a readable reason.</summary>
public static class HttpProblem
{
    public static HttpAnswer Answer(int status, string title, string detail) =>
        new(status, "application/problem+json",
            JsonSerializer.SerializeToUtf8Bytes(new ProblemDetails($"https://www.rfc-editor.org/rfc/rfc9110#status.{status}", title, status, detail), HttpJson.Default.ProblemDetails));
}

/// <summary>
/// What GET /api/index reports: the model being served, the classes it was trained on, where its forward
/// passes run, how many images its index holds, and (<see cref="ModelError"/>) a newer active version that could not be
/// loaded, with the reason, while the previous one keeps serving; and every model version with its state
/// (active, building n/N, ready, rejected: why, retired). Shards is the version's shard count, ShardItems the
/// images each holds, Segments the segment files (and merged tail) the query host holds.
/// </summary>
public sealed record IndexStatus(string? ModelVersion, IReadOnlyList<int> CodeLengths, long IndexedItems, int Shards,
    string? Runtime = null, ModelVersions.ModelLoadFailure? ModelError = null, IReadOnlyList<string>? Classes = null,
    IReadOnlyList<VersionStatus>? Versions = null, IReadOnlyList<long>? ShardItems = null, int Segments = 0);

/// <summary>One image that could not be indexed, newest first in GET /api/failures.</summary>
public sealed record FailureStatus(string BlobName, string Stage, string Reason, DateTimeOffset At, int Attempts, DateTimeOffset? RetryAt);

/// <summary>The answer to GET /api/failures: the newest <see cref="Failures"/> of <see cref="Total"/>.</summary>
public sealed record FailuresStatus(int Total, IReadOnlyList<FailureStatus> Failures);

/// <summary>The answer to POST /api/admin/retrain.</summary>
public sealed record RetrainAccepted(string RequestId);

/// <summary>One model version in GET /api/index.</summary>
public sealed record VersionStatus(string Version, string Status, long Images, long Covered, IReadOnlyDictionary<int, double> HeldOutMap);

/// <summary>
/// The HTTP functions' logic, shared by the Azure Functions app and the local Kestrel host: both
/// pass the request's parts in and write the <see cref="HttpAnswer"/> out. Every bad request
/// becomes a 400 problem-details answer and a missing model a 503; nothing a caller sends yields a 500.
/// </summary>
public sealed class QueryHttpHandler(QueryService queries, ModelVersions.ActiveModelCache models, IndexCache index, ModelVersions.VersionOverview versions,
    ModelVersions.RetrainScheduler retraining, Indexing.FailureLog failures, QueryOptions options, ILogger<QueryHttpHandler> logger)
{
    /// <summary>POST /api/admin/retrain: asks for a retraining job; 202 with the request's id.</summary>
    public async Task<HttpAnswer> RetrainAsync(CancellationToken cancellationToken)
    {
        string requestId;
        try
        {
            requestId = await retraining.RequestNowAsync("http", cancellationToken);
        }
        catch (Exception e) when (Ingest.EncodeBatchProcessor.IsStorageFault(e, cancellationToken))
        {
            logger.LogWarning(e, "Retraining request failed: storage does not answer");
            return StorageUnavailable("the request could not be queued now; nothing was asked");
        }
        return new HttpAnswer(202, "application/json", JsonSerializer.SerializeToUtf8Bytes(new RetrainAccepted(requestId), HttpJson.Default.RetrainAccepted));
    }

    public async Task<HttpAnswer> QueryAsync(string? contentType, Stream body, Func<string, string?> queryParameter, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await ReadBodyAsync(body, options.MaxBodyBytes, cancellationToken);
            var request = QueryRequestParser.Parse(contentType, bytes, queryParameter, options);
            var response = await queries.QueryAsync(request, cancellationToken);
            return Json(200, response, HttpJson.Default.QueryResponse);
        }
        catch (QueryValidationException e)
        {
            logger.LogInformation("Query rejected: {Title}: {Detail}", e.Title, e.Detail);
            return Problem(400, e.Title, e.Detail);
        }
        catch (ModelUnavailableException e)
        {
            return Problem(503, "No model", e.Message) with { RetryAfter = TimeSpan.FromSeconds(30) };
        }
        catch (QueryCapacityException e)
        {
            logger.LogWarning("Query refused for now: {Detail}", e.Message);
            return Problem(503, "Busy", e.Message) with { RetryAfter = TimeSpan.FromSeconds(5) };
        }
        catch (IndexUnavailableException e)
        {
            logger.LogError(e, "Query failed: the index cannot be loaded");
            return IndexUnavailable(e);
        }
        catch (Catalog.CatalogFilterException e)
        {
            logger.LogInformation("Query rejected: its filter: {Detail}", e.Message);
            return Problem(400, "Invalid filter", e.Message);
        }
        catch (Catalog.CatalogUnavailableException e) when (e.NotConfigured)
        {
            return Problem(400, "No search catalog", e.Message);
        }
        catch (Catalog.CatalogUnavailableException e)
        {
            return Problem(503, "Search catalog unavailable", e.Message) with { RetryAfter = TimeSpan.FromSeconds(5) };
        }
        catch (Exception e) when (Ingest.EncodeBatchProcessor.IsStorageFault(e, cancellationToken))
        {
            // Before any model is held (a new host during an outage) there is nothing to answer from.
            logger.LogWarning(e, "Query failed: storage does not answer");
            return StorageUnavailable("the model could not be read from storage now");
        }
    }

    public async Task<HttpAnswer> StatusAsync(CancellationToken cancellationToken)
    {
        ModelFiles.LoadedModel? model;
        try
        {
            model = await models.GetAsync(cancellationToken);
        }
        catch (Exception e) when (Ingest.EncodeBatchProcessor.IsStorageFault(e, cancellationToken))
        {
            logger.LogWarning(e, "Status failed: storage does not answer");
            return StorageUnavailable("the model could not be read from storage now");
        }
        var failure = models.LastFailure;
        IReadOnlyList<VersionStatus>? lifecycle = null;
        try
        {
            lifecycle = [.. (await versions.ListAsync(withSizes: false, cancellationToken)).Select(v => new VersionStatus(v.Version, v.Status, v.Images, v.Covered, v.HeldOutMap))];
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Could not list the model versions for the status"); // the rest of the status stands
        }
        if (model is null) return Json(200, new IndexStatus(null, [], 0, 0, null, failure, Versions: lifecycle), HttpJson.Default.IndexStatus);
        try
        {
            var snapshot = await index.GetAsync(model.ModelVersion, new Formats.CodeFormat(model.Codewords, model.Levels), cancellationToken);
            // The served version's count is the index held here, not the count its record had when it was last updated.
            lifecycle = lifecycle?.Select(v => v.Version == model.ModelVersion ? v with { Images = snapshot.Items } : v).ToList();
            return Json(200, new IndexStatus(model.ModelVersion, model.CodeLengths, snapshot.Items, snapshot.ShardCount,
                $"onnxruntime {model.Provider.Name}", failure, model.Manifest.ClassNameList, lifecycle, snapshot.ItemsPerShard(), snapshot.Segments.Length),
                HttpJson.Default.IndexStatus);
        }
        catch (IndexUnavailableException e)
        {
            return IndexUnavailable(e);
        }
    }

    /// <summary>GET /api/failures?top=N: the newest N (default 20, at most 200) images that could not be indexed, with why.</summary>
    public async Task<HttpAnswer> FailuresAsync(string? top, CancellationToken cancellationToken)
    {
        var count = 20;
        if (top is not null && (!int.TryParse(top, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count) || count is < 1 or > 200))
            return Problem(400, "Bad top", "top is how many failures to list, 1 to 200");
        try
        {
            var all = await failures.ListAsync(cancellationToken);
            var newest = all.OrderByDescending(f => f.At).Take(count)
                .Select(f => new FailureStatus(f.BlobName, f.Stage.ToString(), f.Reason, f.At, f.Attempts, f.RetryAt)).ToList();
            return Json(200, new FailuresStatus(all.Count, newest), HttpJson.Default.FailuresStatus);
        }
        catch (Exception e) when (Ingest.EncodeBatchProcessor.IsStorageFault(e, cancellationToken))
        {
            logger.LogWarning(e, "Listing the failures failed");
            return StorageUnavailable("the failures could not be read from storage now");
        }
    }

    private static HttpAnswer StorageUnavailable(string what) =>
        Problem(503, "Storage unavailable", $"{what}; try again shortly") with { RetryAfter = TimeSpan.FromSeconds(5) };

    private static HttpAnswer IndexUnavailable(IndexUnavailableException e) =>
        Problem(503, "Index unavailable", e.Message) with { RetryAfter = TimeSpan.FromSeconds(5) };

    private static async Task<byte[]> ReadBodyAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit) throw new QueryValidationException("Request too large", $"the body is larger than the limit of {limit} bytes");
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static HttpAnswer Problem(int status, string title, string detail) => HttpProblem.Answer(status, title, detail);

    private static HttpAnswer Json<T>(int status, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        new(status, "application/json", JsonSerializer.SerializeToUtf8Bytes(value, type));
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(QueryResponse))]
[JsonSerializable(typeof(IndexStatus))]
[JsonSerializable(typeof(ProblemDetails))]
[JsonSerializable(typeof(RetrainAccepted))]
[JsonSerializable(typeof(FailuresStatus))]
[JsonSerializable(typeof(Diagnostics.HealthReport))]
public sealed partial class HttpJson : JsonSerializerContext;
