using Dpq.Data;

namespace Dpq.Training;

/// <summary>
/// Shuffled mini-batches with our own seeded RNG, so runs repeat exactly. Optional augmentation (images only):
/// a random shift of up to <see cref="MaxShift"/> pixels in each direction (zero fill) and a
/// horizontal flip with probability 1/2.
/// </summary>
public sealed class BatchSampler(TrainingInputs inputs, int batchSize, Random rng, bool augment)
{
    public const int MaxShift = 2;
    private readonly int[] _order = Enumerable.Range(0, inputs.Count).ToArray();
    private readonly bool _augment = augment && inputs.Images is not null;

    public int Batches => (inputs.Count + batchSize - 1) / batchSize;

    /// <summary>A new random order for the next epoch (Fisher-Yates).</summary>
    public void Shuffle() => rng.Shuffle(_order);

    /// <summary>Fills batch <paramref name="batch"/> of the current order; returns its size.</summary>
    public int Fill(int batch, Span<float> pixels, Span<long> labels)
    {
        int start = batch * batchSize;
        int count = Math.Min(batchSize, inputs.Count - start);
        int size = inputs.Shape.Pixels;
        for (int i = 0; i < count; i++)
        {
            int index = _order[start + i];
            labels[i] = inputs.Labels[index];
            var target = pixels.Slice(i * size, size);
            if (_augment)
            {
                var images = inputs.Images!;
                CopyShifted(images.Pixels.AsSpan(index * size, size), target, images.Height, images.Width,
                    rng.Next(-MaxShift, MaxShift + 1), rng.Next(-MaxShift, MaxShift + 1), rng.Next(2) == 1);
            }
            else
            {
                inputs.Copy(index, target);
            }
        }
        return count;
    }

    private static void CopyShifted(ReadOnlySpan<byte> source, Span<float> target, int height, int width, int dy, int dx, bool flip)
    {
        for (int y = 0; y < height; y++)
        {
            int sy = y - dy;
            for (int x = 0; x < width; x++)
            {
                int sx = (flip ? width - 1 - x : x) - dx;
                target[y * width + x] = sy >= 0 && sy < height && sx >= 0 && sx < width ? source[sy * width + sx] * (1f / 255f) : 0f;
            }
        }
    }
}
