using System.Buffers.Binary;
using Dpq.Imaging;
using SkiaSharp;

namespace Dpq.Tests.Imaging;

public sealed class ThumbnailRendererTests
{
    private static readonly ThumbnailRenderer Renderer = new(ImageLimits.Query);

    private static byte[] Gradient(int width, int height)
    {
        var gray = new byte[width * height];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++) gray[y * width + x] = (byte)((x * 255 / Math.Max(1, width - 1) + y * 7) % 256);
        return gray;
    }

    private static SKBitmap Decode(byte[] png)
    {
        Assert.True(ImageHeader.TryRead(png, out var header) && header.Format == ImageFormat.Png, "a thumbnail is a PNG");
        return SKBitmap.Decode(png);
    }

    [Theory]
    [InlineData(300, 120, 160, 160, 64)]
    [InlineData(120, 300, 100, 40, 100)]
    [InlineData(28, 28, 160, 28, 28)] // never enlarged
    [InlineData(600, 600, 16, 16, 16)]
    public void AThumbnailFitsTheSideAskedForAndKeepsTheShape(int width, int height, int side, int expectedWidth, int expectedHeight)
    {
        using var thumbnail = Decode(Renderer.Render(ImagePreprocessor.EncodePng(Gradient(width, height), width, height), side));
        Assert.Equal((expectedWidth, expectedHeight), (thumbnail.Width, thumbnail.Height));
    }

    [Fact]
    public void ASmallImageKeepsItsPixels()
    {
        var gray = Gradient(28, 28);
        using var thumbnail = Decode(Renderer.Render(ImagePreprocessor.EncodePng(gray, 28, 28)));
        for (var y = 0; y < 28; y++)
            for (var x = 0; x < 28; x++) Assert.Equal(gray[y * 28 + x], thumbnail.GetPixel(x, y).Red);
    }

    [Fact]
    public void AJpegIsShownTurnedAsItsExifOrientationSays()
    {
        // Stored 48x32, orientation 6 (turned 90 clockwise): shown 32x48, the stored top row on the right.
        var gray = new byte[48 * 32];
        for (var x = 0; x < 48; x++) gray[x] = 255; // a white top row
        var file = TestImageFiles.WithExifOrientation(ImagePreprocessor.EncodeGray(gray, 48, 32, SKEncodedImageFormat.Jpeg, 95), 6);
        using var thumbnail = Decode(Renderer.Render(file));
        Assert.Equal((32, 48), (thumbnail.Width, thumbnail.Height));
        Assert.True(thumbnail.GetPixel(31, 24).Red > 200, "the right column should be the stored top row");
        Assert.True(thumbnail.GetPixel(0, 24).Red < 50);
    }

    [Fact]
    public void AHugeClaimedSizeIsRefusedBeforeDecoding()
    {
        var png = ImagePreprocessor.EncodePng(Gradient(4, 4), 4, 4);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), 40000);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), 40000);
        Assert.Contains("40000x40000", Assert.Throws<ImageRejectedException>(() => Renderer.Render(png)).Reason);
        Assert.Contains("truncated", Assert.Throws<ImageRejectedException>(() => Renderer.Render(ImagePreprocessor.EncodePng(Gradient(40, 40), 40, 40)[..60])).Reason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(ThumbnailRenderer.MaxSide + 1)]
    public void ASideOutOfRangeIsRefused(int side) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Renderer.Render(ImagePreprocessor.EncodePng(Gradient(8, 8), 8, 8), side));
}
