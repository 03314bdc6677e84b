using Dpq.Data;
using Dpq.Imaging;
using Dpq.ModelFiles;
using Dpq.Quantization;

namespace Dpq.Copies;

/// <summary>
/// How the copy distance was chosen: squared distances of re-encoded copies of sampled training images
/// to their own codes, and of the same images to their nearest other training image. Quantiles are
/// keyed "p50", "p99", "p99.9", "max" (copies) and "min", "p0.1", "p1", "p50" (neighbours).
/// </summary>
public sealed record CopyCalibration(int SampledImages, Dictionary<string, float> CopyDistances, Dictionary<string, float> NeighbourDistances,
    double CopiesWithin, double NeighboursWithin);

/// <summary>A trained <see cref="CopyCodec"/> and its calibration.</summary>
public sealed record TrainedCopyCodec(CopyCodec Codec, CopyCalibration Calibration);

/// <summary>
/// Trains the copy codes on a model's training images, as serving computes them (PNG bytes decoded at
/// the model's input): residual k-means of the fingerprints (8 levels of 256) on all but the
/// calibration images (<see cref="CalibrationSample"/>), the cross byte's values
/// (quantiles of the scanned levels' cross terms), and the copy distance: <see cref="CopyMargin"/> times the largest squared
/// distance of a sampled image's re-encoded copies (every <see cref="CopyVariant"/>) to its own code,
/// and their median as the typical copy distance. The nearest other image is often closer than the
/// farthest copy (docs/model.md), so the distance bounds what can lead an answer, and the ranking among
/// the candidates decides which does.
/// </summary>
public static class CopyCodecTrainer
{
    public const double CopyMargin = 1.5;
    public const int CalibrationImages = 2000;

    public static TrainedCopyCodec Train(ImageSet images, InputShape input, int seed = 1, IProgress<string>? log = null, CancellationToken cancellationToken = default)
    {
        const int F = CopyFingerprint.Dimension;
        int n = images.Count;
        if (n < CopyCodec.Codewords) throw new ArgumentException($"copy codes need at least {CopyCodec.Codewords} training images, got {n}", nameof(images));
        var pre = new ImagePreprocessor(input.Width, input.Height, channels: input.Channels);
        var prints = Fingerprints(images, Enumerable.Range(0, n).ToArray(), CopyVariant.Exact, pre, input, cancellationToken);
        // The calibration images are held out of the k-means, so that their codes are as faithful as an upload's.
        var heldOut = CalibrationSample(n);
        var isHeldOut = new bool[n];
        foreach (var i in heldOut) isHeldOut[i] = true;
        var fitted = Enumerable.Range(0, n).Where(i => !isHeldOut[i]).ToArray();
        var fitPrints = new float[fitted.Length * F];
        for (int j = 0; j < fitted.Length; j++) prints.AsSpan(fitted[j] * F, F).CopyTo(fitPrints.AsSpan(j * F));
        log?.Report($"copy codes: {n} fingerprints; residual k-means on {fitted.Length} ({heldOut.Length} held out for calibration), {CopyCodec.Levels} levels of {CopyCodec.Codewords}");
        var books = ResidualKMeans.Train(fitPrints, fitted.Length, F, CopyCodec.Levels, CopyCodec.Codewords, seed, iterations: 15).Codebooks;
        cancellationToken.ThrowIfCancellationRequested();

        // Cross-term values: the midpoints of 255 equal-count bins over the training images.
        var crossTerms = new float[n];
        Parallel.For(0, n, i =>
        {
            Span<byte> levels = stackalloc byte[CopyCodec.Levels];
            books.EncodeHard(prints.AsSpan(i * F, F), levels);
            crossTerms[i] = CopyCodec.CrossTerm(books, levels[..CopyCodec.ScannedLevels]);
        });
        Array.Sort(crossTerms);
        var norms = new float[CopyCodec.CrossValues];
        for (int b = 0; b < norms.Length; b++) norms[b] = crossTerms[(int)((b + 0.5) * n / norms.Length)];

        var provisional = new CopyCodec(books, norms, copyDistance: 1, typicalCopyDistance: 0);
        var codes = new byte[n * CopyCodec.CodeBytes];
        Parallel.For(0, n, i => provisional.Encode(prints.AsSpan(i * F, F), codes.AsSpan(i * CopyCodec.CodeBytes, CopyCodec.CodeBytes)));
        var calibration = Calibrate(images, provisional, prints, codes, heldOut, pre, input, cancellationToken, out float copyDistance);
        float typical = calibration.CopyDistances["p50"];
        log?.Report($"copy codes: copy distance {copyDistance:G4} (largest copy {calibration.CopyDistances["max"]:G4}, "
            + $"nearest other image p1 {calibration.NeighbourDistances["p1"]:G4}); {calibration.NeighboursWithin:P2} of sampled images have another within it");
        return new TrainedCopyCodec(new CopyCodec(books, norms, copyDistance, typical), calibration);
    }

    /// <summary>The held-out calibration images: every (n / s)-th, s = min(<see cref="CalibrationImages"/>, n / 10), the last of each stride.</summary>
    public static int[] CalibrationSample(int count)
    {
        int s = Math.Max(1, Math.Min(CalibrationImages, count / 10)), stride = count / s;
        return [.. Enumerable.Range(0, s).Select(i => i * stride + stride - 1)];
    }

    private static CopyCalibration Calibrate(ImageSet images, CopyCodec codec, float[] prints, byte[] codes, int[] sample, ImagePreprocessor pre, InputShape input,
        CancellationToken cancellationToken, out float copyDistance)
    {
        const int F = CopyFingerprint.Dimension, B = CopyCodec.CodeBytes;
        int n = images.Count, s = sample.Length;

        var copyDistances = new List<float>();
        foreach (var variant in CopyVariants.All)
        {
            var variantPrints = Fingerprints(images, sample, variant, pre, input, cancellationToken);
            for (int j = 0; j < s; j++)
                copyDistances.Add(codec.SquaredDistance(variantPrints.AsSpan(j * F, F), codes.AsSpan(sample[j] * B, B)));
        }

        var reconstructions = new float[n * F];
        Parallel.For(0, n, i => codec.Decode(codes.AsSpan(i * B, B), reconstructions.AsSpan(i * F, F)));
        var neighbours = new float[s];
        Parallel.For(0, s, new ParallelOptions { CancellationToken = cancellationToken }, j =>
        {
            var query = prints.AsSpan(sample[j] * F, F);
            float best = float.PositiveInfinity;
            for (int i = 0; i < n; i++)
            {
                if (i == sample[j]) continue;
                best = Math.Min(best, VectorMath.SquaredDistance(query, reconstructions.AsSpan(i * F, F)));
            }
            neighbours[j] = best;
        });

        var copies = copyDistances.Order().ToArray();
        Array.Sort(neighbours);
        copyDistance = (float)(CopyMargin * copies[^1]);
        float threshold = copyDistance;
        return new CopyCalibration(s,
            new() { ["p50"] = Quantile(copies, 0.5), ["p99"] = Quantile(copies, 0.99), ["p99.9"] = Quantile(copies, 0.999), ["max"] = copies[^1] },
            new() { ["min"] = neighbours[0], ["p0.1"] = Quantile(neighbours, 0.001), ["p1"] = Quantile(neighbours, 0.01), ["p50"] = Quantile(neighbours, 0.5) },
            copies.Count(d => d <= threshold) / (double)copies.Length, neighbours.Count(d => d <= threshold) / (double)s);
    }

    private static float Quantile(float[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    /// <summary>Fingerprints of the chosen images saved as <paramref name="variant"/> and decoded as serving decodes them.</summary>
    private static float[] Fingerprints(ImageSet images, int[] indices, CopyVariant variant, ImagePreprocessor pre, InputShape input, CancellationToken cancellationToken)
    {
        const int F = CopyFingerprint.Dimension;
        var prints = new float[indices.Length * F];
        Parallel.For(0, indices.Length, new ParallelOptions { CancellationToken = cancellationToken }, () => new float[pre.PixelCount], (j, _, pixels) =>
        {
            int i = indices[j];
            var file = CopyVariants.Make(variant, images.Pixels.AsSpan(i * images.PixelsPerImage, images.PixelsPerImage), images.Width, images.Height);
            pre.Decode(file, pixels);
            CopyFingerprint.Compute(pixels, input, prints.AsSpan(j * F, F));
            return pixels;
        }, _ => { });
        return prints;
    }
}
