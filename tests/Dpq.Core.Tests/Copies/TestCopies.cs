using Dpq.Copies;
using Dpq.Data;

namespace Dpq.Tests.Copies;

/// <summary>
/// Made-up 28x28 gray images (a few bright rectangles on black, as a catalogue picture on a plain
/// background) and copy codes trained on them once per test run.
/// </summary>
internal static class TestCopies
{
    public const int TrainImages = 600;

    private static readonly Lazy<(ImageSet Images, TrainedCopyCodec Codec)> Trained = new(() =>
    {
        var images = Images(TrainImages, seed: 3);
        return (images, CopyCodecTrainer.Train(images, new ModelFiles.InputShape(1, 28, 28), seed: 1));
    });

    public static ImageSet TrainingImages => Trained.Value.Images;

    public static TrainedCopyCodec Codec => Trained.Value.Codec;

    public static ImageSet Images(int count, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[count * 784];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)(i % 10);
            var image = pixels.AsSpan(i * 784, 784);
            for (int r = rng.Next(2, 5); r > 0; r--)
            {
                int x0 = rng.Next(0, 22), y0 = rng.Next(0, 22), w = rng.Next(3, 28 - x0), h = rng.Next(3, 28 - y0);
                byte value = (byte)rng.Next(60, 256);
                for (int y = y0; y < y0 + h; y++)
                    for (int x = x0; x < x0 + w; x++) image[y * 28 + x] = Math.Max(image[y * 28 + x], value);
            }
        }
        return new ImageSet(count, 28, 28, pixels, labels, 10);
    }
}
