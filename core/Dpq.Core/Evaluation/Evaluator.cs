using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dpq.Data;
using Dpq.Formats;
using Dpq.ModelFiles;
using Dpq.ModelVersions;
using Dpq.Quantization;

namespace Dpq.Evaluation;

/// <summary>What the fixed protocol works on: query features (continuous), database codes (hard), labels and codebooks.</summary>
public sealed record EvaluationData(
    string ModelVersion, int D, int M, int K,
    float[] QueryFeatures, byte[] QueryLabels, byte[] QueryPredictions,
    float[] DatabaseFeatures, byte[] DatabaseCodes, byte[] DatabaseLabels, Codebooks Codebooks)
{
    public int Queries => QueryLabels.Length;
    public int DatabaseSize => DatabaseLabels.Length;
}

/// <summary>
/// The near-duplicates the service puts first for each query (database index, copy distance), and the
/// distance that scales their scores (<see cref="Query.AnswerRanking"/>).
/// </summary>
public sealed record NearDuplicatePromotion(IReadOnlyList<(int Item, float Distance)>[] PerQuery, float CopyDistance)
{
    /// <summary>Share of queries that get at least one near-duplicate.</summary>
    public double QueriesWithNearDuplicates => PerQuery.Length == 0 ? 0 : PerQuery.Count(p => p.Count > 0) / (double)PerQuery.Length;
}

/// <summary>The measured numbers; code lengths are in bits. Served: mAP of the service's ranking (near-duplicates first), when measured.</summary>
public sealed record EvaluationReport(
    EvaluationData Data,
    SortedDictionary<int, RetrievalResult> Dpq,
    RetrievalResult Float,
    SortedDictionary<int, RetrievalResult> ProductQuantization,
    double Accuracy,
    Dictionary<string, double> Seconds,
    SortedDictionary<int, RetrievalResult>? Served = null,
    double? QueriesWithNearDuplicates = null)
{
    /// <summary>The JSON file: map, map_float, accuracy (the contract), plus the PQ baseline, curves, protocol and timings.</summary>
    public string ToJson()
    {
        static JsonObject Maps(SortedDictionary<int, RetrievalResult> results) =>
            new(results.Select(r => KeyValuePair.Create(r.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)Round(r.Value.Map))));
        static JsonObject Curves(SortedDictionary<int, RetrievalResult> results) =>
            new(results.Select(r => KeyValuePair.Create(r.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)Curve(r.Value))));
        static JsonArray Curve(RetrievalResult r) => [.. r.PrecisionAtRecall.Select(p => (JsonNode?)Round(p))];
        static double Round(double v) => Math.Round(v, 6);

        var root = new JsonObject
        {
            ["model"] = Data.ModelVersion,
            ["map"] = Maps(Dpq),
            ["map_float"] = Round(Float.Map),
            ["accuracy"] = Round(Accuracy),
            ["map_pq"] = Maps(ProductQuantization),
            ["map_served"] = Served is null ? null : Maps(Served),
            ["queries_with_near_duplicates"] = QueriesWithNearDuplicates is { } share ? Round(share) : null,
            ["protocol"] = new JsonObject
            {
                ["database"] = $"{Data.DatabaseSize} training images as hard codes",
                ["queries"] = $"{Data.Queries} test images as continuous features",
                ["score"] = "inner product of the query feature with the sum of the item's first m codewords",
                ["map_at"] = Data.DatabaseSize,
                ["relevance"] = "same class",
                ["ties"] = "equal scores rank by database index, lower first",
                ["served"] = "map_served: the service's ranking, its near-duplicates (copy codes) first with scores above every class score, then the same scores",
                ["pq_baseline"] = "bits/8 sub-quantizers of D/(bits/8) dims, 256 centroids each, k-means++ with a fixed seed, on the same database features",
            },
            ["k"] = Data.K,
            ["m"] = Data.M,
            ["d"] = Data.D,
            ["queries_with_relevant"] = Float.QueriesWithRelevant,
            ["runtime"] = "onnxruntime",
            ["precision_recall"] = new JsonObject
            {
                ["recall"] = new JsonArray([.. MeanAveragePrecision.RecallLevels.Select(r => (JsonNode?)r)]),
                ["dpq"] = Curves(Dpq),
                ["pq"] = Curves(ProductQuantization),
                ["float"] = Curve(Float),
            },
            ["seconds"] = new JsonObject(Seconds.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)Math.Round(s.Value, 2)))),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}

/// <summary>
/// The fixed evaluation protocol (docs/model.md): database = training images as hard codes,
/// queries = test images as continuous features, score = &lt;x_q, sum of the item's first m
/// codewords&gt; (a sum of lookup-table entries), mAP over the whole database with same-class
/// relevance and database-order tie breaking, for every code length the model offers; plus the
/// float features' mAP, the head's accuracy and a product-quantization baseline on the same features.
/// </summary>
public static class Evaluator
{
    /// <summary>Encodes both sets through the model's ONNX feature network, as serving does.</summary>
    public static EvaluationData Prepare(LoadedModel model, ImageSet database, ImageSet queries)
    {
        var db = model.EncodeAll(database, withCodes: true);
        var q = model.EncodeAll(queries, withCodes: false);
        var m = model.Manifest;
        return new EvaluationData(m.Version, m.D, m.M, m.K, q.Features, queries.Labels, q.Predictions,
            db.Features, db.Codes, database.Labels, model.Codebooks);
    }

    public static EvaluationReport Run(EvaluationData data, bool productQuantization = true, int seed = 1, IProgress<string>? log = null,
        CancellationToken cancellationToken = default, NearDuplicatePromotion? served = null)
    {
        var seconds = new Dictionary<string, double>();
        var clock = Stopwatch.StartNew();
        int d = data.D, k = data.K, levelBits = data.Codebooks.BitsPerLevel;
        double accuracy = data.Queries == 0 ? 0 : data.QueryPredictions.Zip(data.QueryLabels).Count(p => p.First == p.Second) / (double)data.Queries;

        var floatResult = MeanAveragePrecision.Evaluate(data.Queries,
            (q, scores) => CodeScoring.ScoreFeatures(data.QueryFeatures.AsSpan(q * d, d), data.DatabaseFeatures, scores),
            data.QueryLabels, data.DatabaseLabels);
        seconds["map_float"] = Lap(clock);
        log?.Report($"float features: mAP {floatResult.Map:F4}, head accuracy {accuracy:P2}");

        var dpq = new SortedDictionary<int, RetrievalResult>();
        for (int levels = 1; levels <= data.M; levels++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int used = levels;
            dpq[levels * levelBits] = MeanAveragePrecision.Evaluate(data.Queries, (q, scores) =>
            {
                Span<float> tables = stackalloc float[used * k];
                data.Codebooks.LookupTables(data.QueryFeatures.AsSpan(q * d, d), used, tables);
                CodeScoring.ScoreCodes(tables, used, k, data.DatabaseCodes, data.M, scores);
            }, data.QueryLabels, data.DatabaseLabels);
            seconds[$"map_dpq_{levels * levelBits}"] = Lap(clock);
            log?.Report($"DPQ {levels * levelBits} bits: mAP {dpq[levels * levelBits].Map:F4}");
        }

        SortedDictionary<int, RetrievalResult>? servedMaps = null;
        if (served is not null)
        {
            servedMaps = [];
            for (int levels = 1; levels <= data.M; levels++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int used = levels;
                servedMaps[levels * levelBits] = MeanAveragePrecision.Evaluate(data.Queries, (q, scores) =>
                {
                    var query = data.QueryFeatures.AsSpan(q * d, d);
                    Span<float> tables = stackalloc float[used * k];
                    data.Codebooks.LookupTables(query, used, tables);
                    CodeScoring.ScoreCodes(tables, used, k, data.DatabaseCodes, data.M, scores);
                    float ceiling = Query.AnswerRanking.Ceiling(data.Codebooks, query, used);
                    foreach (var (item, distance) in served.PerQuery[q]) scores[item] = Query.AnswerRanking.NearDuplicateScore(ceiling, distance, served.CopyDistance);
                }, data.QueryLabels, data.DatabaseLabels);
                seconds[$"map_served_{levels * levelBits}"] = Lap(clock);
                log?.Report($"served ranking (near-duplicates first) {levels * levelBits} bits: mAP {servedMaps[levels * levelBits].Map:F4}");
            }
        }

        var pq = new SortedDictionary<int, RetrievalResult>();
        if (productQuantization)
        {
            foreach (int bits in dpq.Keys.Where(b => b % 8 == 0 && d % (b / 8) == 0))
            {
                cancellationToken.ThrowIfCancellationRequested();
                int subs = bits / 8;
                var quantizer = ProductQuantizer.Train(data.DatabaseFeatures, data.DatabaseSize, d, subs, seed);
                var codes = quantizer.Encode(data.DatabaseFeatures, data.DatabaseSize);
                seconds[$"pq_train_{bits}"] = Lap(clock);
                pq[bits] = MeanAveragePrecision.Evaluate(data.Queries, (q, scores) =>
                {
                    Span<float> tables = stackalloc float[subs * quantizer.Centroids];
                    quantizer.LookupTables(data.QueryFeatures.AsSpan(q * d, d), tables);
                    CodeScoring.ScoreCodes(tables, subs, quantizer.Centroids, codes, subs, scores);
                }, data.QueryLabels, data.DatabaseLabels);
                seconds[$"map_pq_{bits}"] = Lap(clock);
                log?.Report($"PQ {bits} bits: mAP {pq[bits].Map:F4}");
            }
        }
        return new EvaluationReport(data, dpq, floatResult, pq, accuracy, seconds, servedMaps, served?.QueriesWithNearDuplicates);
    }

    /// <summary>Writes the arrays that let anyone recompute the mAP (docs/model.md lists shapes and dtypes).</summary>
    public static void Export(EvaluationData data, string directory)
    {
        Directory.CreateDirectory(directory);
        NpyWriter.Write(Path.Combine(directory, "query_features.npy"), data.QueryFeatures, data.Queries, data.D);
        NpyWriter.Write(Path.Combine(directory, "query_labels.npy"), data.QueryLabels, data.Queries);
        NpyWriter.Write(Path.Combine(directory, "database_codes.npy"), data.DatabaseCodes, data.DatabaseSize, data.M);
        NpyWriter.Write(Path.Combine(directory, "database_labels.npy"), data.DatabaseLabels, data.DatabaseSize);
        NpyWriter.Write(Path.Combine(directory, "database_features.npy"), data.DatabaseFeatures, data.DatabaseSize, data.D);
        NpyWriter.Write(Path.Combine(directory, "codebooks.npy"), data.Codebooks.Data, data.M, data.K, data.D);
    }

    private static double Lap(Stopwatch clock)
    {
        double s = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return s;
    }
}
