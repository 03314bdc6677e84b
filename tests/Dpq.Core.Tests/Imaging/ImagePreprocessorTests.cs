using System.Buffers.Binary;
using Dpq.Imaging;
using SkiaSharp;

namespace Dpq.Tests.Imaging;

public sealed class ImagePreprocessorTests
{
    private static byte[] RandomGray(int w, int h, int seed)
    {
        var bytes = new byte[w * h];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void PngRoundTripIsLossless()
    {
        var gray = RandomGray(28, 28, 1);
        var png = ImagePreprocessor.EncodePng(gray, 28, 28);
        var pixels = new float[28 * 28];
        new ImagePreprocessor(28, 28).Decode(png, pixels);
        for (var i = 0; i < gray.Length; i++) Assert.Equal(gray[i] / 255f, pixels[i]);
    }

    [Fact]
    public void LargerImagesAreResizedToTheModelInput()
    {
        // A 56x56 image whose left half is white and right half black stays that way at 28x28.
        var gray = new byte[56 * 56];
        for (var y = 0; y < 56; y++) for (var x = 0; x < 28; x++) gray[y * 56 + x] = 255;
        var pixels = new float[28 * 28];
        new ImagePreprocessor(28, 28).Decode(ImagePreprocessor.EncodePng(gray, 56, 56), pixels);
        Assert.True(pixels[14 * 28 + 5] > 0.95f);
        Assert.True(pixels[14 * 28 + 22] < 0.05f);
    }

    [Fact]
    public void JpegHeaderIsReadAndJpegDecodes()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(40, 30, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bitmap.Erase(SKColors.White);
        using var jpeg = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
        var bytes = jpeg.ToArray();
        Assert.True(ImageHeader.TryRead(bytes, out var header));
        Assert.Equal(new ImageHeader(ImageFormat.Jpeg, 40, 30), header);
        var pixels = new float[28 * 28];
        new ImagePreprocessor(28, 28).Decode(bytes, pixels);
        Assert.All(pixels, p => Assert.True(p > 0.95f));
    }

    [Fact]
    public void AHugeClaimedSizeIsRefusedFromTheHeaderAlone()
    {
        // A tiny file whose header claims 40000 x 40000 pixels: refused before any decoding.
        var png = ImagePreprocessor.EncodePng(RandomGray(4, 4, 2), 4, 4);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), 40000);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), 40000);
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28).Decode(png, new float[28 * 28]));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Contains("40000x40000", e.Reason);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes while refusing");
    }

    [Fact]
    public void EmptyFileIsRejectedWithAReason()
    {
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28).Decode([], new float[28 * 28]));
        Assert.Contains("empty", e.Reason);
    }

    [Fact]
    public void NonImageBytesAreRejected()
    {
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28).Decode("hello, not an image"u8, new float[28 * 28]));
        Assert.Contains("not a PNG or JPEG", e.Reason);
    }

    [Fact]
    public void AValidHeaderWithCorruptDataIsRejectedNotCrashed()
    {
        var png = ImagePreprocessor.EncodePng(RandomGray(28, 28, 3), 28, 28);
        var corrupt = png[..40].Concat(Enumerable.Repeat((byte)0xAB, 200)).ToArray();
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28).Decode(corrupt, new float[28 * 28]));
        Assert.Contains("corrupt", e.Reason);
    }

    [Fact]
    public void ATruncatedImageIsRejectedNotIndexedHalfBlank()
    {
        var png = ImagePreprocessor.EncodePng(RandomGray(64, 64, 5), 64, 64);
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28).Decode(png[..(png.Length * 2 / 3)], new float[28 * 28]));
        Assert.Contains("corrupt", e.Reason);
    }

    [Fact]
    public void FilesOverTheByteLimitAreRejected()
    {
        var png = ImagePreprocessor.EncodePng(RandomGray(28, 28, 4), 28, 28);
        var limits = new ImageLimits { MaxBytes = png.Length - 1 };
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28, limits).Check(png));
        Assert.Contains("limit", e.Reason);
    }
}
