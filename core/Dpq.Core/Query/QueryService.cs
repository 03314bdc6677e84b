using System.Diagnostics;
using Dpq.Copies;
using Dpq.Formats;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Scan;

namespace Dpq.Query;

/// <summary>
/// Answers similarity queries: turns the request into a query feature and copy fingerprint (encoding an
/// image, reading an indexed item's codes, or taking a vector as is, which has no fingerprint), and ranks
/// the active model version's index with <see cref="AnswerRanking"/>: near-duplicates first, then the
/// class neighbours of the requested code length.
/// A filter (<see cref="QueryRequest.Filter"/>) is evaluated by the search catalog, and the scans then leave out
/// every image it does not select.
/// </summary>
public sealed class QueryService(ActiveModelCache models, IndexCache index, QueryOptions options, IImageDecoder decoder, Telemetry.DpqMetrics metrics,
    Catalog.ISearchCatalog catalog)
{
    public async Task<QueryResponse> QueryAsync(QueryRequest request, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        var model = await models.GetAsync(cancellationToken)
            ?? throw new ModelUnavailableException(models.LastFailure is { } failed
                ? $"model {failed.Version} is active but cannot be loaded: {failed.Reason}"
                : "no model is active yet: train and publish one (./dpq demo does both), then query again");
        var modelMs = total.Elapsed.TotalMilliseconds;

        var bitsPerLevel = model.Codebooks.BitsPerLevel;
        var bits = request.Bits ?? model.CodeLengths[^1];
        if (!model.CodeLengths.Contains(bits))
            throw new QueryValidationException("Invalid bits", $"model {model.ModelVersion} offers {string.Join(", ", model.CodeLengths)} bits (got {bits})");
        var levels = bits / bitsPerLevel;

        var step = Stopwatch.StartNew();
        var snapshot = await index.GetAsync(model.ModelVersion, new CodeFormat(model.Codewords, model.Levels), cancellationToken);
        var indexMs = step.Elapsed.TotalMilliseconds;

        step.Restart();
        var (feature, fingerprint) = QueryFeature(request, model, snapshot);
        var encodeMs = step.Elapsed.TotalMilliseconds;

        var candidates = request.Filter is { } filter ? snapshot.RestrictedTo(await catalog.MatchAsync(model.ModelVersion, filter, cancellationToken)) : snapshot;

        var scan = new ScanOptions
        {
            Threads = options.ScanThreads,
            Labels = request.Labels is null ? null : LabelFilter.Named(request.Labels),
        };
        var answer = AnswerRanking.Rank(candidates, model.Codebooks, model.Copies, feature, fingerprint, levels, request.K, scan, cancellationToken);
        var results = answer.Hits.Select(h =>
        {
            var segment = snapshot.Segments[h.Segment];
            var blobName = segment.Ids[h.Item];
            return new QueryHit(ImageId.FromBlobName(blobName).ToString(), blobName, h.Score, segment.LabelOf(h.Item),
                h.IsNearDuplicate ? QueryHit.NearDuplicate : QueryHit.Similar, h.CopyDistance);
        }).ToList();
        bool copyChannel = fingerprint is not null && model.Copies is not null && !snapshot.CopyViews.IsEmpty;
        metrics.Query(total.Elapsed.TotalMilliseconds, answer.ScanMs, bits);

        return new QueryResponse(model.ModelVersion, bits, request.K, snapshot.Items, results,
            new QueryTimings(total.Elapsed.TotalMilliseconds, modelMs, indexMs, encodeMs, answer.ScanMs, answer.CopyScanMs),
            copyChannel ? answer.NearDuplicateFloor : null);
    }

    /// <summary>The query's feature and, where it has one, its copy fingerprint (null for a vector, or without copy codes).</summary>
    private (float[] Feature, float[]? Fingerprint) QueryFeature(QueryRequest request, LoadedModel model, IndexSnapshot snapshot)
    {
        if (request.Vector is { } vector)
        {
            return vector.Length == model.FeatureDimension
                ? (vector, null)
                : throw new QueryValidationException("Invalid vector", $"model {model.ModelVersion} has {model.FeatureDimension}-dimensional features; the vector has {vector.Length}");
        }
        if (request.Id is { } id)
        {
            // From the index as held, like the answer itself: an id query reads no storage.
            var imageId = id.Length == 32 && id.All(char.IsAsciiHexDigitLower) ? ImageId.Parse(id) : ImageId.FromBlobName(id);
            if (snapshot.Find(imageId) is not var (s, i))
                throw new QueryValidationException("Unknown id", $"no image '{id}' is indexed for model {model.ModelVersion}");
            var segment = snapshot.Segments[s];
            var format = segment.Format;
            Span<byte> packed = stackalloc byte[format.BytesPerCode];
            segment.CopyCode(i, packed);
            var code = new byte[format.Levels];
            for (var l = 0; l < code.Length; l++) code[l] = (byte)format.GetLevel(packed, l);
            // An indexed image is known by its code: its feature is approximated by the sum of its codewords.
            var reconstructed = new float[model.FeatureDimension];
            model.Codebooks.Decode(code, reconstructed);
            float[]? print = null;
            if (model.Copies is { } copies && snapshot.HasCopyCode(s, i))
            {
                print = new float[CopyFingerprint.Dimension];
                copies.Decode(segment.CopyCodeOf(i), print);
            }
            return (reconstructed, print);
        }
        var pre = new ImagePreprocessor(model.InputWidth, model.InputHeight, ImageLimits.ForQuery(model.InputWidth, model.InputHeight), model.InputChannels);
        var pixels = new float[pre.PixelCount];
        try
        {
            decoder.Decode(pre, request.Image, pixels);
        }
        catch (ImageRejectedException e)
        {
            throw new QueryValidationException("Invalid image", e.Reason);
        }
        catch (Exception e) when (e is OutOfMemoryException or InsufficientMemoryException)
        {
            throw new QueryCapacityException("the host is short of memory for decoding the image; try again shortly");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A decoder fault this image triggers: the caller's image, not the service, is what to change.
            throw new QueryValidationException("Invalid image", $"the image could not be decoded ({e.GetType().Name})");
        }
        float[]? fingerprint = null;
        if (model.Copies is not null)
        {
            fingerprint = new float[CopyFingerprint.Dimension];
            CopyFingerprint.Compute(pixels, model.Input, fingerprint);
        }
        return (model.EncodeFeatures(pixels, 1), fingerprint);
    }
}
