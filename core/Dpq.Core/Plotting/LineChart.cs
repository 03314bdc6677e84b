using System.Globalization;
using SkiaSharp;

namespace Dpq.Plotting;

/// <summary>One line of a chart. Dashed lines draw no markers.</summary>
public sealed record ChartSeries(string Name, SKColor Color, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false);

/// <summary>
/// A plain line chart drawn with SkiaSharp: axes with ticks and grid, a title, axis labels and a
/// legend. Text uses DejaVu Sans (Debian's fonts-dejavu-core), falling back to the default typeface.
/// </summary>
public sealed class LineChart
{
    public const string FontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    public required string Title { get; init; }
    public required string XLabel { get; init; }
    public required string YLabel { get; init; }
    public required IReadOnlyList<double> XTicks { get; init; }
    public required (double Min, double Max) XRange { get; init; }
    public required (double Min, double Max) YRange { get; init; }
    public required IReadOnlyList<ChartSeries> Series { get; init; }
    public double YTickStep { get; init; } = 0.1;
    public string YTickFormat { get; init; } = "F2";

    /// <summary>Draws the chart on a white canvas of width x height and saves it as PNG.</summary>
    public void WritePng(string path, int width = 900, int height = 600)
    {
        using var surface = SKSurface.Create(new SKImageInfo(width, height));
        Draw(surface.Canvas, width, height);
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }

    private void Draw(SKCanvas canvas, int width, int height)
    {
        using var typeface = File.Exists(FontPath) ? SKTypeface.FromFile(FontPath) : SKTypeface.Default;
        using var titleFont = new SKFont(typeface, 22);
        using var font = new SKFont(typeface, 15);
        using var text = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var axis = new SKPaint { Color = SKColors.Black, StrokeWidth = 1.5f, IsStroke = true, IsAntialias = true };
        using var grid = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1, IsStroke = true };
        canvas.Clear(SKColors.White);

        var plot = new SKRect(90, 60, width - 30, height - 75);
        float Px(double x) => plot.Left + (float)((x - XRange.Min) / (XRange.Max - XRange.Min)) * plot.Width;
        float Py(double y) => plot.Bottom - (float)((y - YRange.Min) / (YRange.Max - YRange.Min)) * plot.Height;

        canvas.DrawText(Title, width / 2f, 36, SKTextAlign.Center, titleFont, text);
        int yTicks = (int)Math.Round((YRange.Max - YRange.Min) / YTickStep);
        for (int i = 0; i <= yTicks; i++)
        {
            double y = YRange.Min + i * YTickStep;
            canvas.DrawLine(plot.Left, Py(y), plot.Right, Py(y), grid);
            canvas.DrawText(y.ToString(YTickFormat, CultureInfo.InvariantCulture), plot.Left - 8, Py(y) + 5, SKTextAlign.Right, font, text);
        }
        foreach (var x in XTicks)
        {
            canvas.DrawLine(Px(x), plot.Top, Px(x), plot.Bottom, grid);
            canvas.DrawText(x.ToString("0.##", CultureInfo.InvariantCulture), Px(x), plot.Bottom + 20, SKTextAlign.Center, font, text);
        }
        canvas.DrawRect(plot, axis);
        canvas.DrawText(XLabel, plot.MidX, height - 25, SKTextAlign.Center, font, text);
        canvas.Save();
        canvas.RotateDegrees(-90, 25, plot.MidY);
        canvas.DrawText(YLabel, 25, plot.MidY + 5, SKTextAlign.Center, font, text);
        canvas.Restore();

        canvas.Save();
        canvas.ClipRect(new SKRect(plot.Left - 6, plot.Top - 6, plot.Right + 6, plot.Bottom + 6));
        foreach (var s in Series) DrawSeries(canvas, s, Px, Py);
        canvas.Restore();
        DrawLegend(canvas, plot, font, text);
    }

    private static void DrawSeries(SKCanvas canvas, ChartSeries series, Func<double, float> px, Func<double, float> py)
    {
        using var line = new SKPaint { Color = series.Color, StrokeWidth = 2.5f, IsStroke = true, IsAntialias = true };
        using var dash = series.Dashed ? SKPathEffect.CreateDash([10, 6], 0) : null;
        line.PathEffect = dash;
        var points = series.Points.Select(p => new SKPoint(px(p.X), py(p.Y))).ToArray();
        canvas.DrawPoints(SKPointMode.Polygon, points, line);
        if (series.Dashed) return;
        using var marker = new SKPaint { Color = series.Color, IsAntialias = true };
        foreach (var (x, y) in series.Points) canvas.DrawCircle(px(x), py(y), 4.5f, marker);
    }

    private void DrawLegend(SKCanvas canvas, SKRect plot, SKFont font, SKPaint text)
    {
        const float Row = 22, Swatch = 28;
        float width = Series.Max(s => font.MeasureText(s.Name)) + Swatch + 30;
        var box = new SKRect(plot.Right - width - 12, plot.Bottom - Row * Series.Count - 22, plot.Right - 12, plot.Bottom - 12);
        using var fill = new SKPaint { Color = new SKColor(255, 255, 255, 230) };
        using var border = new SKPaint { Color = new SKColor(160, 160, 160), IsStroke = true, StrokeWidth = 1 };
        canvas.DrawRect(box, fill);
        canvas.DrawRect(box, border);
        for (int i = 0; i < Series.Count; i++)
        {
            var s = Series[i];
            float y = box.Top + 16 + i * Row;
            using var line = new SKPaint { Color = s.Color, StrokeWidth = 2.5f, IsStroke = true, IsAntialias = true };
            using var dash = s.Dashed ? SKPathEffect.CreateDash([6, 4], 0) : null;
            line.PathEffect = dash;
            canvas.DrawLine(box.Left + 8, y, box.Left + 8 + Swatch, y, line);
            canvas.DrawText(s.Name, box.Left + 16 + Swatch, y + 5, SKTextAlign.Left, font, text);
        }
    }
}
