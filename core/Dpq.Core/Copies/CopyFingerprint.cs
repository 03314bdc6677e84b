namespace Dpq.Copies;

/// <summary>
/// A model-free descriptor of an image's pixels for finding its copies: the 28x28 gray image moved
/// (bilinearly) so that its intensity centroid sits at the centre, then averaged over 4x4 cells into
/// 7x7 = 49 values in [0, 1]. Re-encoding (JPEG, PNG colour types, bit depth, alpha) changes it a
/// little and a shift of a pixel or two almost not at all, while two different images differ in it
/// far more; the label-guided model feature, by design, does not tell two images of a class apart.
/// Inputs of another shape (colour, larger) are first averaged to 28x28 gray, so one descriptor
/// serves every model input.
/// </summary>
public static class CopyFingerprint
{
    public const int Side = 28;
    public const int Cell = 4;
    public const int Dimension = Side / Cell * (Side / Cell);

    /// <summary>Writes the fingerprint of a 28x28 plane of values in [0, 1] (row-major) to <paramref name="destination"/>.</summary>
    public static void Compute(ReadOnlySpan<float> pixels, Span<float> destination)
    {
        if (pixels.Length != Side * Side) throw new ArgumentException($"the fingerprint reads {Side}x{Side} pixels, got {pixels.Length}", nameof(pixels));
        if (destination.Length != Dimension) throw new ArgumentException($"the fingerprint has {Dimension} values", nameof(destination));
        double sum = 0, sx = 0, sy = 0;
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                double v = pixels[y * Side + x];
                (sum, sx, sy) = (sum + v, sx + v * x, sy + v * y);
            }
        const double Centre = (Side - 1) / 2.0;
        double dx = sum > 0 ? sx / sum - Centre : 0, dy = sum > 0 ? sy / sum - Centre : 0;
        destination.Clear();
        const float Weight = 1f / (Cell * Cell);
        for (int y = 0; y < Side; y++)
        {
            double sourceY = y + dy;
            int y0 = (int)Math.Floor(sourceY);
            float fy = (float)(sourceY - y0);
            for (int x = 0; x < Side; x++)
            {
                double sourceX = x + dx;
                int x0 = (int)Math.Floor(sourceX);
                float fx = (float)(sourceX - x0);
                float v = (1 - fx) * (1 - fy) * At(pixels, x0, y0) + fx * (1 - fy) * At(pixels, x0 + 1, y0)
                    + (1 - fx) * fy * At(pixels, x0, y0 + 1) + fx * fy * At(pixels, x0 + 1, y0 + 1);
                destination[y / Cell * (Side / Cell) + x / Cell] += v * Weight;
            }
        }
    }

    /// <summary>Fingerprints of <paramref name="count"/> model inputs laid one after another, in parallel: count x <see cref="Dimension"/> values.</summary>
    public static float[] ComputeAll(float[] pixels, int count, ModelFiles.InputShape shape)
    {
        var prints = new float[count * Dimension];
        Parallel.For(0, count, i => Compute(pixels.AsSpan(i * shape.Pixels, shape.Pixels), shape, prints.AsSpan(i * Dimension, Dimension)));
        return prints;
    }

    /// <summary>The fingerprint of one model input (channels x height x width, values in [0, 1]).</summary>
    public static void Compute(ReadOnlySpan<float> pixels, ModelFiles.InputShape shape, Span<float> destination)
    {
        if (pixels.Length != shape.Pixels) throw new ArgumentException($"expected {shape.Pixels} values for {shape}, got {pixels.Length}", nameof(pixels));
        if (shape is { Channels: 1, Height: Side, Width: Side })
        {
            Compute(pixels, destination);
            return;
        }
        Span<float> gray = stackalloc float[Side * Side];
        ToGray28(pixels, shape, gray);
        Compute(gray, destination);
    }

    /// <summary>Channel mean, then the mean of the source pixels whose centres fall in each of the 28x28 cells.</summary>
    private static void ToGray28(ReadOnlySpan<float> pixels, ModelFiles.InputShape shape, Span<float> gray)
    {
        Span<float> counts = stackalloc float[Side * Side];
        gray.Clear();
        counts.Clear();
        int plane = shape.Height * shape.Width;
        for (int y = 0; y < shape.Height; y++)
        {
            int gy = Math.Min(Side - 1, (int)((y + 0.5) * Side / shape.Height));
            for (int x = 0; x < shape.Width; x++)
            {
                int gx = Math.Min(Side - 1, (int)((x + 0.5) * Side / shape.Width));
                float v = 0;
                for (int c = 0; c < shape.Channels; c++) v += pixels[c * plane + y * shape.Width + x];
                gray[gy * Side + gx] += v / shape.Channels;
                counts[gy * Side + gx]++;
            }
        }
        for (int i = 0; i < gray.Length; i++) gray[i] = counts[i] > 0 ? gray[i] / counts[i] : 0;
    }

    private static float At(ReadOnlySpan<float> pixels, int x, int y) =>
        (uint)x < Side && (uint)y < Side ? pixels[y * Side + x] : 0f;
}
