using System.Diagnostics;
using Dpq.Copies;
using Dpq.Data;
using Dpq.Imaging;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Quantization;

namespace Dpq.Evaluation;

/// <summary>
/// copy@1 and copy@10 per scoring, variant and code length (bits), and what each scoring stores per item.
/// <see cref="Served"/> is the service's own answer (<see cref="ServedEvaluation"/>); NearDuplicateLed: per
/// variant, the share of its answers that the copy scan led with at least one near-duplicate.
/// </summary>
public sealed record CopyReport(int Copies, int DatabaseItems, int ExtraLevels,
    SortedDictionary<string, SortedDictionary<string, SortedDictionary<int, CopyResult>>> Results, Dictionary<string, double> BytesPerItem, double Seconds,
    SortedDictionary<string, double>? NearDuplicateLed = null)
{
    public const string Served = "Served";
}

/// <summary>
/// The copy-retrieval protocol (docs/model.md): the first <c>copies</c> test images are stored next to
/// the training images, through the worker's path (PNG bytes, decode, ONNX Runtime, code assignment);
/// each is then queried as every <see cref="CopyVariant"/> of its file, through the query path's
/// decode. Scorings are compared side by side; the finer codes for re-ranking are residual k-means
/// levels trained on the training images' residuals after the model's M levels.
/// </summary>
public static class CopyEvaluation
{
    public static CopyReport Run(LoadedModel model, ImageSet database, byte[] databaseCodes, float[] databaseFeatures, ImageSet queries, int copies,
        int extraLevels = 4, int seed = 1, IProgress<string>? log = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        copies = Math.Min(copies, queries.Count);
        int d = model.FeatureDimension, m = model.Levels, n = database.Count + copies;
        var stored = EncodeFiles(model, queries, copies, CopyVariant.Exact);
        var codes = new byte[n * m];
        databaseCodes.CopyTo(codes, 0);
        var copyCodes = model.AssignCodes(stored, copies);
        copyCodes.CopyTo(codes, database.Count * m);
        var features = new float[n * d];
        databaseFeatures.CopyTo(features, 0);
        stored.CopyTo(features, database.Count * d);

        // Finer levels: residual k-means on the training images' residuals, then every item's residual encoded.
        var residuals = Residuals(model.Codebooks, features, codes, n);
        var finer = ResidualKMeans.Train(residuals[..(database.Count * d)], database.Count, d, extraLevels, 256, seed).Codebooks;
        var finerCodes = new byte[n * extraLevels];
        Parallel.For(0, n, i => finer.EncodeHard(residuals.AsSpan(i * d, d), finerCodes.AsSpan(i * extraLevels, extraLevels)));
        var fingerprint = FingerprintIndex(model, database, queries, copies, seed);
        var retrieval = new CopyRetrieval(model.Codebooks, codes, features, database.Count, finer, finerCodes);
        log?.Report($"copies: {copies} test images stored beside {database.Count} training images; {extraLevels} extra levels for re-ranking");
        var served = ServedEvaluation.Store(model, [("train", database, databaseCodes), ("copies", queries.Slice(0, copies), copyCodes)], cancellationToken);
        var led = new SortedDictionary<string, double>(StringComparer.Ordinal);

        var results = new SortedDictionary<string, SortedDictionary<string, SortedDictionary<int, CopyResult>>>(StringComparer.Ordinal);
        foreach (var variant in CopyVariants.All)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pixels = DecodeFiles(model, queries, copies, variant);
            var query = model.EncodeFeatures(pixels, copies);
            foreach (var scoring in Enum.GetValues<CopyScoring>())
            {
                var row = Row(results, scoring.ToString(), variant);
                for (int levels = 1; levels <= m; levels++)
                    row[levels * model.Codebooks.BitsPerLevel] = retrieval.Evaluate(query, levels, scoring);
            }
            if (fingerprint is not null)
            {
                // The fingerprint does not depend on the code length: one result, listed under every length.
                var prints = CopyFingerprint.ComputeAll(pixels, copies, model.Input);
                foreach (var (name, levels, scoring) in new[] { ("Fingerprint4", 4, CopyScoring.SquaredDistance), ("Fingerprint4Reranked8", 4, CopyScoring.Reranked), ("FingerprintFloat", 4, CopyScoring.FloatFeature) })
                {
                    var result = fingerprint.Evaluate(prints, levels, scoring);
                    var row = Row(results, name, variant);
                    for (int l = 1; l <= m; l++) row[l * model.Codebooks.BitsPerLevel] = result;
                }
            }
            led[CopyVariants.Name(variant)] = Served(served, model, queries, copies, database.Count, variant, Row(results, CopyReport.Served, variant));
            var full = results[CopyReport.Served][CopyVariants.Name(variant)][m * model.Codebooks.BitsPerLevel];
            log?.Report($"copies, {CopyVariants.Name(variant)}: served copy@1 {full.CopyAt1:P1}, copy@10 {full.CopyAt10:P1} at {m * model.Codebooks.BitsPerLevel} bits");
        }
        var bytes = new Dictionary<string, double>
        {
            ["Fingerprint4"] = m + 5,
            ["Fingerprint4Reranked8"] = m + 9,
            ["FingerprintFloat"] = m + 4 * CopyFingerprint.Dimension,
            [nameof(CopyScoring.InnerProduct)] = m,
            [nameof(CopyScoring.SquaredDistance)] = m + 1, // with the norm term in one byte
            [nameof(CopyScoring.Reranked)] = m + 1 + extraLevels,
            [nameof(CopyScoring.FloatFeature)] = 4 * d,
            [CopyReport.Served] = m + (model.Copies is null ? 0 : CopyCodec.CodeBytes),
        };
        return new CopyReport(copies, n, extraLevels, results, bytes, clock.Elapsed.TotalSeconds, led);
    }

    /// <summary>
    /// The service's answers (k = 10) to every query of one variant at every code length, into
    /// <paramref name="row"/>; returns the share of answers led by near-duplicates.
    /// </summary>
    private static double Served(ServedEvaluation served, LoadedModel model, ImageSet queries, int copies, int firstCopy, CopyVariant variant,
        SortedDictionary<int, CopyResult> row)
    {
        var files = new byte[copies][];
        Parallel.For(0, copies, i => files[i] = CopyVariants.Make(variant, queries.Pixels.AsSpan(i * queries.PixelsPerImage, queries.PixelsPerImage), queries.Width, queries.Height));
        var (features, prints) = served.EncodeQueries(files);
        int d = model.FeatureDimension, f = prints.Length == 0 ? 0 : CopyFingerprint.Dimension;
        int ledCount = 0;
        for (int levels = 1; levels <= model.Levels; levels++)
        {
            int at1 = 0, at10 = 0, withDuplicates = 0, used = levels;
            Parallel.For(0, copies, () => (0, 0, 0), (i, _, acc) =>
            {
                var (items, duplicates) = served.Answer(features.AsSpan(i * d, d), prints.AsSpan(i * f, f), used, 10);
                int rank = Array.IndexOf(items, firstCopy + i);
                return (acc.Item1 + (rank == 0 ? 1 : 0), acc.Item2 + (rank >= 0 ? 1 : 0), acc.Item3 + (duplicates > 0 ? 1 : 0));
            }, acc => { Interlocked.Add(ref at1, acc.Item1); Interlocked.Add(ref at10, acc.Item2); Interlocked.Add(ref withDuplicates, acc.Item3); });
            row[levels * model.Codebooks.BitsPerLevel] = new CopyResult(at1 / (double)copies, at10 / (double)copies);
            ledCount = withDuplicates;
        }
        return ledCount / (double)copies;
    }

    private static SortedDictionary<int, CopyResult> Row(SortedDictionary<string, SortedDictionary<string, SortedDictionary<int, CopyResult>>> results, string scoring, CopyVariant variant)
    {
        if (!results.TryGetValue(scoring, out var byVariant)) results[scoring] = byVariant = new(StringComparer.Ordinal);
        return byVariant[CopyVariants.Name(variant)] = [];
    }

    /// <summary>
    /// The copies' fingerprints next to the training images', as 8 residual levels of 256 codewords
    /// (trained on the training images): the first 4 are scanned by squared distance (with the norm
    /// term), the other 4 re-rank the candidates. Null when the model's input is not 28x28 gray.
    /// </summary>
    private static CopyRetrieval? FingerprintIndex(LoadedModel model, ImageSet database, ImageSet queries, int copies, int seed)
    {
        if (model.Input != new ModelFiles.InputShape(1, CopyFingerprint.Side, CopyFingerprint.Side)) return null;
        const int F = CopyFingerprint.Dimension, P = CopyFingerprint.Side * CopyFingerprint.Side;
        int n = database.Count + copies;
        var pixels = new float[n * P];
        database.CopyUnitPixels(0, database.Count, pixels);
        DecodeFiles(model, queries, copies, CopyVariant.Exact).CopyTo(pixels, database.Count * P);
        var prints = CopyFingerprint.ComputeAll(pixels, n, model.Input);
        var books = ResidualKMeans.Train(prints.AsSpan(0, database.Count * F).ToArray(), database.Count, F, 8, 256, seed, iterations: 15).Codebooks;
        var codes = new byte[n * 8];
        Parallel.For(0, n, i => books.EncodeHard(prints.AsSpan(i * F, F), codes.AsSpan(i * 8, 8)));
        var coarse = books.Prefix(4);
        var finer = new Codebooks(4, 256, F, books.Data[(4 * 256 * F)..].ToArray());
        var coarseCodes = new byte[n * 4];
        var finerCodes = new byte[n * 4];
        for (int i = 0; i < n; i++)
        {
            codes.AsSpan(i * 8, 4).CopyTo(coarseCodes.AsSpan(i * 4));
            codes.AsSpan(i * 8 + 4, 4).CopyTo(finerCodes.AsSpan(i * 4));
        }
        return new CopyRetrieval(coarse, coarseCodes, prints, database.Count, finer, finerCodes);
    }

    /// <summary>Features of the first <paramref name="count"/> images saved as <paramref name="variant"/>, decoded as a query is.</summary>
    private static float[] EncodeFiles(LoadedModel model, ImageSet images, int count, CopyVariant variant) =>
        model.EncodeFeatures(DecodeFiles(model, images, count, variant), count);

    private static float[] DecodeFiles(LoadedModel model, ImageSet images, int count, CopyVariant variant)
    {
        var pre = new ImagePreprocessor(model.InputWidth, model.InputHeight, channels: model.InputChannels);
        var pixels = new float[count * pre.PixelCount];
        Parallel.For(0, count, i =>
        {
            var file = CopyVariants.Make(variant, images.Pixels.AsSpan(i * images.PixelsPerImage, images.PixelsPerImage), images.Width, images.Height);
            pre.Decode(file, pixels.AsSpan(i * pre.PixelCount, pre.PixelCount));
        });
        return pixels;
    }

    /// <summary>x - r_M for every item: what the model's M levels leave.</summary>
    private static float[] Residuals(Codebooks books, float[] features, byte[] codes, int count)
    {
        int d = books.D;
        var residuals = new float[count * d];
        Parallel.For(0, count, i =>
        {
            Span<float> r = stackalloc float[d];
            books.Decode(codes.AsSpan(i * books.M, books.M), r);
            for (int j = 0; j < d; j++) residuals[i * d + j] = features[i * d + j] - r[j];
        });
        return residuals;
    }
}
