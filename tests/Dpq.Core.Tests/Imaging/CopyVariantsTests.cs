using Dpq.Copies;
using Dpq.Imaging;

namespace Dpq.Tests.Imaging;

/// <summary>The copy variants are real files of their kind, and decode as the service decodes them.</summary>
public sealed class CopyVariantsTests
{
    private static byte[] Gray()
    {
        var rng = new Random(3);
        var gray = new byte[28 * 28];
        for (int y = 4; y < 24; y++)
            for (int x = 3; x < 25; x++) gray[y * 28 + x] = (byte)rng.Next(40, 256);
        return gray;
    }

    private static float[] Decode(byte[] file)
    {
        var pixels = new float[784];
        new ImagePreprocessor(28, 28).Decode(file, pixels);
        return pixels;
    }

    [Theory]
    [InlineData(CopyVariant.Exact, 0, 8)]
    [InlineData(CopyVariant.RgbPng, 2, 8)]
    [InlineData(CopyVariant.PalettePng, 3, 8)]
    [InlineData(CopyVariant.Gray16Png, 0, 16)]
    [InlineData(CopyVariant.AlphaPng, 6, 8)]
    public void LosslessVariantsArePngsOfTheirColourTypeThatDecodeToTheSamePixels(CopyVariant variant, byte colorType, byte bitDepth)
    {
        var gray = Gray();
        var file = CopyVariants.Make(variant, gray, 28, 28);
        Assert.True(ImageHeader.TryRead(file, out var header));
        Assert.Equal((ImageFormat.Png, 28, 28), (header.Format, header.Width, header.Height));
        Assert.Equal((bitDepth, colorType), (file[24], file[25])); // IHDR bit depth and colour type
        var pixels = Decode(file);
        for (int i = 0; i < gray.Length; i++) Assert.Equal(gray[i] / 255f, pixels[i], 5);
    }

    [Theory]
    [InlineData(CopyVariant.Jpeg75, 0.08)]
    [InlineData(CopyVariant.Jpeg95, 0.03)]
    public void JpegVariantsAreJpegsCloseToTheOriginal(CopyVariant variant, double maxMeanError)
    {
        var gray = Gray();
        var file = CopyVariants.Make(variant, gray, 28, 28);
        Assert.True(ImageHeader.TryRead(file, out var header) && header.Format == ImageFormat.Jpeg);
        var pixels = Decode(file);
        var error = gray.Select((g, i) => Math.Abs(g / 255.0 - pixels[i])).Average();
        Assert.InRange(error, 1e-4, maxMeanError); // lossy, but only a little
    }

    [Fact]
    public void TheShiftMovesEveryColumnOneToTheRight()
    {
        var gray = Gray();
        var pixels = Decode(CopyVariants.Make(CopyVariant.Shift1, gray, 28, 28));
        for (int y = 0; y < 28; y++)
        {
            Assert.Equal(0f, pixels[y * 28]);
            for (int x = 1; x < 28; x++) Assert.Equal(gray[y * 28 + x - 1] / 255f, pixels[y * 28 + x], 5);
        }
    }

    [Fact]
    public void AFingerprintBarelyMovesUnderAShiftButSeparatesTwoImages()
    {
        var gray = Gray();
        var other = Gray().Reverse().ToArray();
        float[] Print(byte[] file)
        {
            var f = new float[CopyFingerprint.Dimension];
            CopyFingerprint.Compute(Decode(file), f);
            return f;
        }
        var original = Print(CopyVariants.Make(CopyVariant.Exact, gray, 28, 28));
        var shifted = Print(CopyVariants.Make(CopyVariant.Shift1, gray, 28, 28));
        var different = Print(CopyVariants.Make(CopyVariant.Exact, other, 28, 28));
        double Distance(float[] a, float[] b) => a.Zip(b).Sum(p => (p.First - p.Second) * (p.First - p.Second));
        Assert.True(Distance(original, shifted) * 20 < Distance(original, different),
            $"shift {Distance(original, shifted):E2} against another image {Distance(original, different):E2}");
    }
}
