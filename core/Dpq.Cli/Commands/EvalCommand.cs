using System.CommandLine;
using System.Diagnostics;
using Dpq.Data;
using Dpq.Evaluation;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Plotting;

namespace Dpq.Cli;

/// <summary>
/// dpq eval --model DIR --json FILE [--export DIR2]: the fixed protocol of docs/model.md on
/// Fashion-MNIST; writes the JSON, FILE-map.png and FILE-pr.png beside it, and with --export the
/// .npy arrays to recompute the numbers independently.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "the model folder", "DIR", required: true);
        var json = CliOptions.Text("--json", "where to write the results; the plots go beside it", "FILE", required: true);
        var export = CliOptions.Text("--export", "also write the .npy arrays to recompute the numbers", "DIR");
        var data = CliOptions.Text("--fashion-mnist", "folder of the Fashion-MNIST files", "DIR", defaultValue: FashionMnist.DefaultDirectory);
        var queries = CliOptions.OptionalInt("--queries", "use the first N test images as queries only", 1);
        var database = CliOptions.OptionalInt("--database", "use the first N training images as the database only", 1);
        var noPq = CliOptions.Flag("--no-pq", "skip the product-quantization baseline");
        var copies = CliOptions.Int("--copies", "images whose copies are queried (0: none)", 1000, 0, 10_000);
        var extraLevels = CliOptions.Int("--extra-levels", "residual levels of the feature-copy baseline", 4, 1, 32);
        return new Command("eval", "evaluate a model on the fixed Fashion-MNIST protocol (docs/model.md): JSON and plots")
            .With(model, json, export, data, queries, database, noPq, copies, extraLevels)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(model), r.GetRequiredValue(json), r.GetValue(export), r.GetRequiredValue(data), r.GetValue(queries) ?? int.MaxValue, r.GetValue(database) ?? int.MaxValue, r.GetValue(noPq), r.GetValue(copies), r.GetValue(extraLevels), ct));
    }

    private static Task<int> RunAsync(string modelDirectory, string jsonPath, string? export, string dataDirectory, int queryLimit, int databaseLimit, bool noPq, int copies, int extraLevels, CancellationToken cancellationToken)
    {

        var clock = Stopwatch.StartNew();
        using var model = OpenModel(modelDirectory);
        var database = FashionMnist.Load(DatasetSplit.Train, dataDirectory);
        var queries = FashionMnist.Load(DatasetSplit.Test, dataDirectory);
        if (databaseLimit < database.Count) database = database.Slice(0, databaseLimit);
        if (queryLimit < queries.Count) queries = queries.Slice(0, queryLimit);
        Console.WriteLine($"dpq eval: model {model.ModelVersion} (K={model.Manifest.K}, M={model.Manifest.M}, D={model.Manifest.D}) on ONNX Runtime "
            + $"({model.Provider.Name}), {queries.Count} queries against {database.Count} database items");

        var data = Evaluator.Prepare(model, database, queries);
        double encodeSeconds = clock.Elapsed.TotalSeconds;
        cancellationToken.ThrowIfCancellationRequested();
        var promotion = NearDuplicates(model, database, data.DatabaseCodes, queries, cancellationToken);
        var report = Evaluator.Run(data, productQuantization: !noPq, log: new Progress(), cancellationToken: cancellationToken, served: promotion);
        report.Seconds["encode"] = encodeSeconds;
        var directory = Path.GetDirectoryName(Path.GetFullPath(jsonPath))!;
        Directory.CreateDirectory(directory);
        CopyReport? copyReport = null;
        if (copies > 0)
        {
            copyReport = CopyEvaluation.Run(model, database, data.DatabaseCodes, data.DatabaseFeatures, queries, copies, extraLevels, log: new Progress(), cancellationToken: cancellationToken);
            File.WriteAllText(Path.ChangeExtension(jsonPath, null) + "-copies.json", System.Text.Json.JsonSerializer.Serialize(copyReport, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            PrintCopies(copyReport);
            EvaluationPlots.WriteCopyPlot(Path.Combine(directory, Path.GetFileNameWithoutExtension(jsonPath)) + "-copies.png", copyReport);
        }

        File.WriteAllText(jsonPath, WithServedCopies(report.ToJson(), copyReport));
        var stem = Path.Combine(directory, Path.GetFileNameWithoutExtension(jsonPath));
        EvaluationPlots.WriteMapPlot(stem + "-map.png", report);
        EvaluationPlots.WritePrecisionRecallPlot(stem + "-pr.png", report);
        if (export is not null) Evaluator.Export(data, export);

        Console.WriteLine($"dpq eval: wrote {jsonPath}, {stem}-map.png, {stem}-pr.png{(export is null ? "" : $", arrays in {export}")} "
            + $"({clock.Elapsed.TotalSeconds:F0} s)");
        return Task.FromResult(0);
    }

    /// <summary>
    /// What the service puts first for each test query over the training images stored as the worker
    /// stores them; null for a model without copy codes.
    /// </summary>
    private static NearDuplicatePromotion? NearDuplicates(LoadedModel model, ImageSet database, byte[] databaseCodes, ImageSet queries, CancellationToken cancellationToken)
    {
        if (model.Copies is null)
        {
            Console.WriteLine("  the model has no copy codes (add them with ./dpq copy-codes): near-duplicates are not measured");
            return null;
        }
        var served = ServedEvaluation.Store(model, [("train", database, databaseCodes)], cancellationToken);
        var files = new byte[queries.Count][];
        Parallel.For(0, queries.Count, i => files[i] = Imaging.ImagePreprocessor.EncodePng(queries, i));
        var (_, prints) = served.EncodeQueries(files, withFeatures: false);
        const int F = Copies.CopyFingerprint.Dimension;
        var perQuery = new IReadOnlyList<(int Item, float Distance)>[queries.Count];
        Parallel.For(0, queries.Count, q => perQuery[q] = served.NearDuplicates(prints.AsSpan(q * F, F), model.Copies.RerankCandidates));
        return new NearDuplicatePromotion(perQuery, model.Copies.CopyDistance);
    }

    /// <summary>The report's JSON with the served ranking's copy@1 and copy@10 by variant and code length next to the mAP (FILE-copies.json has every scoring).</summary>
    private static string WithServedCopies(string json, CopyReport? copies)
    {
        if (copies is null || !copies.Results.TryGetValue(CopyReport.Served, out var served)) return json;
        var root = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        var node = new System.Text.Json.Nodes.JsonObject();
        foreach (var (variant, byBits) in served)
        {
            var bits = new System.Text.Json.Nodes.JsonObject();
            foreach (var (b, result) in byBits)
                bits[b.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new System.Text.Json.Nodes.JsonObject
                {
                    ["copy_at_1"] = Math.Round(result.CopyAt1, 6),
                    ["copy_at_10"] = Math.Round(result.CopyAt10, 6),
                };
            node[variant] = bits;
        }
        root["copies_served"] = node;
        root["copies_protocol"] = $"{copies.Copies} test images stored beside {copies.DatabaseItems - copies.Copies} training images, each queried as every variant through the service's ranking, k = 10";
        return root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>The model as serving opens it; a folder that cannot be opened is a usage error with the reason.</summary>
    internal static LoadedModel OpenModel(string directory)
    {
        try
        {
            return LoadedModel.Open(directory);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            throw new UsageException(e.Message);
        }
    }

    private static void PrintCopies(CopyReport report)
    {
        Console.WriteLine($"  copy@1 / copy@10 of {report.Copies} stored test images among {report.DatabaseItems} items, by scoring (bytes per item):");
        foreach (var (scoring, variants) in report.Results)
        {
            Console.WriteLine($"  {scoring} ({report.BytesPerItem[scoring]} bytes)");
            foreach (var (variant, byBits) in variants)
                Console.WriteLine($"    {variant,-16} " + string.Join("  ", byBits.Select(b => $"{b.Key,2} bits {b.Value.CopyAt1,6:P1} / {b.Value.CopyAt10,6:P1}")));
        }
    }

    private sealed class Progress : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine("  " + value);
    }
}
