using System.Buffers.Binary;
using Dpq.Imaging;
using SkiaSharp;
using static Dpq.Tests.Imaging.TestImageFiles;

namespace Dpq.Tests.Imaging;

public sealed class ImagePreprocessorTests
{
    private static byte[] RandomGray(int w, int h, int seed)
    {
        var bytes = new byte[w * h];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A smooth picture (a lit disc on a gradient), so that JPEG and scaled decoding keep it close.</summary>
    private static byte[] Picture(int side)
    {
        var gray = new byte[side * side];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                double dx = x - side * 0.55, dy = y - side * 0.45;
                bool disc = dx * dx + dy * dy < side * side * 0.06;
                gray[y * side + x] = (byte)(disc ? 230 : 40 + 120 * x / side);
            }
        return gray;
    }

    [Fact]
    public void ALargeJpegDecodesScaledDownToNearlyWhatItsFullDecodeGives()
    {
        const int Side = 2400;
        var gray = Picture(Side);
        var jpeg = ImagePreprocessor.EncodeGray(gray, Side, Side, SKEncodedImageFormat.Jpeg, 90);
        var png = ImagePreprocessor.EncodePng(gray, Side, Side); // PNG decodes at full size
        var pre = new ImagePreprocessor(28, 28, ImageLimits.Query);
        var fromJpeg = new float[784];
        var fromPng = new float[784];
        pre.Decode(jpeg, fromJpeg); // 5.76 Mpx: over the query limit unless scaled at decode
        new ImagePreprocessor(28, 28).Decode(png, fromPng);
        Assert.True(fromJpeg.Zip(fromPng).Average(p => Math.Abs(p.First - p.Second)) < 0.02);
    }

    [Fact]
    public void QueriesRefuseAnImageTheyWouldDecodeAtFullSizeOverTheirLimitAndUploadsTakeIt()
    {
        const int Side = 2400;
        var png = ImagePreprocessor.EncodePng(Picture(Side), Side, Side);
        var pixels = new float[784];
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28, ImageLimits.Query).Decode(png, pixels));
        Assert.Contains("2400x2400", e.Reason);
        Assert.Contains($"limit of {ImageLimits.Query.MaxDecodedPixels} pixels", e.Reason);
        new ImagePreprocessor(28, 28).Decode(png, pixels);
        Assert.True(pixels.Max() > 0.5f);
    }

    [Fact]
    public void QueryLimitsFollowTheModelInputASmallModelRefusesAPngALargeOneTakes()
    {
        const int Side = 1200; // 1.44 Mpx, decoded at full size as PNG
        var png = ImagePreprocessor.EncodePng(Picture(Side), Side, Side);
        var jpeg = ImagePreprocessor.EncodeGray(Picture(2400), 2400, 2400, SKEncodedImageFormat.Jpeg, 90);

        var small = new ImagePreprocessor(28, 28, ImageLimits.ForQuery(28, 28));
        var e = Assert.Throws<ImageRejectedException>(() => small.Decode(png, new float[small.PixelCount]));
        Assert.Contains("1200x1200", e.Reason);
        small.Decode(jpeg, new float[small.PixelCount]); // scaled at decode to 300x300: within the small model's limit

        var large = new ImagePreprocessor(224, 224, ImageLimits.ForQuery(224, 224), channels: 3);
        large.Decode(png, new float[large.PixelCount]);
        Assert.True(ImageLimits.ForQuery(4096, 4096).MaxDecodedPixels <= ImageLimits.Query.MaxDecodedPixels);
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
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(28, 28).Decode(png, new float[28 * 28]));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("40000x40000", e.Reason);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes while refusing");
    }

    /// <summary>A smooth picture that no turn or mirror maps onto itself: a gradient and an off-centre disc on a w x h plane.</summary>
    private static byte[] Asymmetric(int w, int h)
    {
        var gray = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double dx = x - w * 0.3, dy = y - h * 0.25;
                bool disc = dx * dx + dy * dy < w * h * 0.02;
                gray[y * w + x] = (byte)(disc ? 235 : 30 + 100 * x / w + 60 * y / h);
            }
        return gray;
    }

    private static float[] DecodeAt(byte[] file, int width, int height, int channels = 1, ImageLimits? limits = null)
    {
        var pixels = new float[channels * width * height];
        new ImagePreprocessor(width, height, limits, channels).Decode(file, pixels);
        return pixels;
    }

    private static float MeanAbsDiff(float[] a, float[] b) => a.Zip(b).Average(p => Math.Abs(p.First - p.Second));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void AJpegDecodesTurnedAsItsExifOrientationShowsIt(int orientation)
    {
        const int W = 48, H = 32;
        var gray = Asymmetric(W, H);
        var file = WithExifOrientation(ImagePreprocessor.EncodeGray(gray, W, H, SKEncodedImageFormat.Jpeg, 95), orientation);
        using (var codec = SKCodec.Create(SKData.CreateCopy(file))) Assert.Equal((SKEncodedOrigin)orientation, codec.EncodedOrigin);
        var (turned, w, h) = Turn(gray, W, H, orientation);
        var expected = DecodeAt(ImagePreprocessor.EncodeGray(turned, w, h, SKEncodedImageFormat.Jpeg, 95), w, h);
        Assert.True(MeanAbsDiff(DecodeAt(file, w, h), expected) < 0.01);
        // Resized to the model input, too.
        var expectedSmall = DecodeAt(ImagePreprocessor.EncodeGray(turned, w, h, SKEncodedImageFormat.Jpeg, 95), 28, 28);
        Assert.True(MeanAbsDiff(DecodeAt(file, 28, 28), expectedSmall) < 0.01);
    }

    [Fact]
    public void AQuarterTurnedJpegDecodesAtTheScaleItsShownSizeNeeds()
    {
        // Stored 1600x400 and shown 400x1600: a 100x400 input is covered by the 1/4 scale (400x100 stored,
        // 40,000 pixels). Choosing the scale on the stored sides would need the full 640,000.
        const int W = 1600, H = 400;
        var gray = Asymmetric(W, H);
        var file = WithExifOrientation(ImagePreprocessor.EncodeGray(gray, W, H, SKEncodedImageFormat.Jpeg, 90), 6);
        var limits = new ImageLimits { MaxDecodedPixels = 100_000 };
        var (turned, w, h) = Turn(gray, W, H, 6);
        var expected = DecodeAt(ImagePreprocessor.EncodePng(turned, w, h), 100, 400);
        Assert.True(MeanAbsDiff(DecodeAt(file, 100, 400, limits: limits), expected) < 0.02);
    }

    [Fact]
    public void WithThreeChannelsAColourImageDecodesIntoItsRedGreenAndBluePlanes()
    {
        var rgb = new byte[3 * 28 * 28];
        new Random(6).NextBytes(rgb);
        var pixels = DecodeAt(PngWriter.Write(rgb, 28, 28, PngColor.Rgb), 28, 28, channels: 3);
        for (int i = 0; i < 28 * 28; i++)
            for (int c = 0; c < 3; c++) Assert.Equal(rgb[3 * i + c] / 255f, pixels[c * 784 + i]);

        // Red, green and blue bands, resized from 56x56, stay in their planes.
        var bands = new byte[3 * 56 * 56];
        for (int y = 0; y < 56; y++) for (int x = 0; x < 56; x++) bands[3 * (y * 56 + x) + x * 3 / 56] = 255;
        var small = DecodeAt(PngWriter.Write(bands, 56, 56, PngColor.Rgb), 28, 28, channels: 3);
        foreach (var (x, band) in new[] { (4, 0), (14, 1), (24, 2) })
            for (int c = 0; c < 3; c++)
                Assert.Equal(c == band ? 1f : 0f, small[c * 784 + 14 * 28 + x], 0.02f);
    }

    [Fact]
    public void WithThreeChannelsAGrayImageGivesThreeEqualPlanesOfItsGray()
    {
        var gray = RandomGray(28, 28, 7);
        var png = ImagePreprocessor.EncodePng(gray, 28, 28);
        var planes = DecodeAt(png, 28, 28, channels: 3);
        var one = DecodeAt(png, 28, 28);
        for (int c = 0; c < 3; c++) Assert.Equal(one, planes[(c * 784)..((c + 1) * 784)]);

        var jpeg = ImagePreprocessor.EncodeGray(Picture(64), 64, 64, SKEncodedImageFormat.Jpeg, 90);
        var jpegPlanes = DecodeAt(jpeg, 28, 28, channels: 3);
        Assert.Equal(jpegPlanes[..784], jpegPlanes[784..1568]);
        Assert.Equal(jpegPlanes[..784], jpegPlanes[1568..]);
    }

    [Fact]
    public void ThePixelCountIsChannelsTimesHeightTimesWidth()
    {
        Assert.Equal(784, new ImagePreprocessor(28, 28).PixelCount);
        Assert.Equal(3 * 32 * 24, new ImagePreprocessor(24, 32, channels: 3).PixelCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImagePreprocessor(28, 28, channels: 2));
        Assert.Throws<ArgumentException>(() => new ImagePreprocessor(28, 28, channels: 3).Decode(ImagePreprocessor.EncodePng(RandomGray(28, 28, 8), 28, 28), new float[784]));
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
        Assert.Contains("not a PNG, JPEG, GIF, WebP or BMP image", e.Reason);
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
