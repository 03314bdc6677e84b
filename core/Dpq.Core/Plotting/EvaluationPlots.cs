using Dpq.Evaluation;
using SkiaSharp;

namespace Dpq.Plotting;

/// <summary>The two pictures of an evaluation: mAP against code length, and precision-recall per code length.</summary>
public static class EvaluationPlots
{
    private static readonly SKColor[] s_palette =
    [
        new(31, 119, 180), new(214, 39, 40), new(44, 160, 44), new(148, 103, 189),
        new(255, 127, 14), new(140, 86, 75), new(227, 119, 194), new(23, 190, 207),
    ];

    public static void WriteMapPlot(string path, EvaluationReport report)
    {
        var bits = report.Dpq.Keys.ToList();
        var series = new List<ChartSeries>
        {
            new("DPQ", s_palette[0], [.. report.Dpq.Select(r => ((double)r.Key, r.Value.Map))]),
        };
        if (report.Served is { } served)
            series.Add(new("served ranking (near-duplicates first)", s_palette[2], [.. served.Select(r => ((double)r.Key, r.Value.Map))], Dashed: true));
        if (report.ProductQuantization.Count > 0)
            series.Add(new("PQ (k-means, 8-bit sub-quantizers)", s_palette[4], [.. report.ProductQuantization.Select(r => ((double)r.Key, r.Value.Map))]));
        series.Add(new($"float features ({report.Float.Map:F4})", new SKColor(90, 90, 90), [(bits[0] - 2.0, report.Float.Map), (bits[^1] + 2.0, report.Float.Map)], Dashed: true));

        var values = series.SelectMany(s => s.Points.Select(p => p.Y)).ToList();
        var (lo, hi) = NiceRange(values.Min(), values.Max());
        new LineChart
        {
            Title = $"Fashion-MNIST retrieval, mAP@all ({report.Data.Queries} queries, {report.Data.DatabaseSize} items)",
            XLabel = "code length (bits)",
            YLabel = "mAP",
            XTicks = [.. bits.Select(b => (double)b)],
            XRange = (bits[0] - 2, bits[^1] + 2),
            YRange = (lo, hi),
            YTickStep = (hi - lo) / 10,
            YTickFormat = hi - lo < 0.1 ? "F3" : "F2",
            Series = series,
        }.WritePng(path);
    }

    /// <summary>copy@1 against code length per scoring, for the variant each finds hardest (the lowest copy@1).</summary>
    public static void WriteCopyPlot(string path, CopyReport report)
    {
        var series = new List<ChartSeries>();
        int i = 0;
        foreach (var (scoring, variants) in report.Results)
        {
            var bits = variants.First().Value.Keys;
            series.Add(new($"{scoring} ({report.BytesPerItem[scoring]} bytes/item)", s_palette[i++ % s_palette.Length],
                [.. bits.Select(b => ((double)b, variants.Values.Min(v => v[b].CopyAt1)))]));
        }
        if (report.Results.TryGetValue(CopyReport.Served, out var served))
            series.Add(new("Served, copy@10", new SKColor(0, 0, 0), [.. served.First().Value.Keys.Select(b => ((double)b, served.Values.Min(v => v[b].CopyAt10)))], Dashed: true));
        var ticks = report.Results.First().Value.First().Value.Keys.Select(b => (double)b).ToList();
        new LineChart
        {
            Title = $"Copies first: copy@1 of the hardest variant ({report.Copies} copies among {report.DatabaseItems} items)",
            XLabel = "code length (bits)",
            YLabel = "copy@1",
            XTicks = ticks,
            XRange = (ticks[0] - 2, ticks[^1] + 2),
            YRange = (0, 1),
            Series = series,
        }.WritePng(path);
    }

    public static void WritePrecisionRecallPlot(string path, EvaluationReport report)
    {
        var recall = MeanAveragePrecision.RecallLevels;
        var series = new List<ChartSeries>();
        int i = 0;
        foreach (var (bits, result) in report.Dpq)
            series.Add(new($"DPQ {bits} bits (mAP {result.Map:F3})", s_palette[i++ % s_palette.Length], Curve(recall, result)));
        series.Add(new($"float features (mAP {report.Float.Map:F3})", new SKColor(90, 90, 90), Curve(recall, report.Float), Dashed: true));
        new LineChart
        {
            Title = "Precision-recall (interpolated, mean over queries)",
            XLabel = "recall",
            YLabel = "precision",
            XTicks = [.. Enumerable.Range(0, 11).Select(t => t / 10.0)],
            XRange = (0, 1),
            YRange = (0, 1),
            Series = series,
        }.WritePng(path);
    }

    private static List<(double X, double Y)> Curve(IReadOnlyList<double> recall, RetrievalResult result) =>
        [.. recall.Select((r, j) => (r, result.PrecisionAtRecall[j]))];

    /// <summary>A y range around [min, max] with a margin, on steps of 0.01, within [0, 1].</summary>
    private static (double Lo, double Hi) NiceRange(double min, double max)
    {
        double pad = Math.Max(0.01, (max - min) * 0.15);
        double lo = Math.Max(0, Math.Floor((min - pad) * 100) / 100);
        double hi = Math.Min(1, Math.Ceiling((max + pad) * 100) / 100);
        if (hi - lo < 0.02) hi = Math.Min(1, lo + 0.02);
        return (lo, hi);
    }
}
