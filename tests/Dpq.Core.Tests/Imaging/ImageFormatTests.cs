using System.Buffers.Binary;
using Dpq.Imaging;
using SkiaSharp;
using static Dpq.Tests.Imaging.TestImageFiles;

namespace Dpq.Tests.Imaging;

/// <summary>
/// GIF, WebP and BMP: a good file decodes to the pixels it holds, its size is read from the header as the
/// decoder would allocate it, and a truncated, corrupt or oversized file is refused (the oversized one by
/// <see cref="ImagePreprocessor.Check"/>, before any decoding).
/// </summary>
public sealed class ImageFormatTests
{
    private const int Side = 28;

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static float[] Decode(byte[] file, int channels = 1)
    {
        var pixels = new float[channels * Side * Side];
        new ImagePreprocessor(Side, Side, channels: channels).Decode(file, pixels);
        return pixels;
    }

    private static void AssertDecodesTo(ReadOnlySpan<byte> expected, float[] pixels)
    {
        Assert.Equal(expected.Length, pixels.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i] / 255f, pixels[i]);
    }

    /// <summary>R, G, B triples as the three planes <see cref="ImagePreprocessor"/> writes.</summary>
    private static byte[] Planes(ReadOnlySpan<byte> rgb)
    {
        int n = rgb.Length / 3;
        var planes = new byte[rgb.Length];
        for (int i = 0; i < n; i++) for (int c = 0; c < 3; c++) planes[c * n + i] = rgb[3 * i + c];
        return planes;
    }

    private static ImageHeader Header(byte[] file)
    {
        Assert.True(ImageHeader.TryRead(file, out var header));
        return header;
    }

    /// <summary>The size SkiaSharp's decoder would allocate for the file.</summary>
    private static (int, int) CodecSize(byte[] file)
    {
        using var codec = SKCodec.Create(SKData.CreateCopy(file));
        Assert.NotNull(codec);
        return (codec.Info.Width, codec.Info.Height);
    }

    private static void AssertRefusedFromTheHeader(byte[] file, string dimensions)
    {
        var pre = new ImagePreprocessor(Side, Side);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ImageRejectedException>(() => pre.Check(file));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(dimensions, e.Reason);
        Assert.True(allocated < 100_000, $"allocated {allocated} bytes while refusing");
        Assert.Contains(dimensions, Assert.Throws<ImageRejectedException>(() => pre.Decode(file, new float[Side * Side])).Reason);
    }

    private static void AssertUnrecognised(byte[] file) =>
        Assert.Contains("not a PNG, JPEG, GIF, WebP or BMP image",
            Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(Side, Side).Decode(file, new float[Side * Side])).Reason);

    private static void AssertCorrupt(byte[] file) =>
        Assert.Contains("corrupt", Assert.Throws<ImageRejectedException>(() => new ImagePreprocessor(Side, Side).Decode(file, new float[Side * Side])).Reason);

    private static byte[] Gif28(byte[] gray) => Gif(Side, Side, new GifFrame(gray, 0, 0, Side, Side));

    // GIF

    [Fact]
    public void AGifDecodesToThePixelsItHolds()
    {
        var gray = RandomBytes(Side * Side, 1);
        var gif = Gif28(gray);
        Assert.Equal(new ImageHeader(ImageFormat.Gif, Side, Side), Header(gif));
        AssertDecodesTo(gray, Decode(gif));
    }

    [Fact]
    public void AnAnimatedGifDecodesItsFirstFrame()
    {
        var first = RandomBytes(Side * Side, 2);
        var second = Enumerable.Repeat((byte)255, Side * Side).ToArray();
        var gif = Gif(Side, Side, new GifFrame(first, 0, 0, Side, Side), new GifFrame(second, 0, 0, Side, Side));
        using (var codec = SKCodec.Create(SKData.CreateCopy(gif))) Assert.Equal(2, codec.FrameCount);
        AssertDecodesTo(first, Decode(gif));
    }

    [Fact]
    public void WhatAGifsFirstFrameLeavesOfItsScreenIsBlack()
    {
        var frame = Enumerable.Repeat((byte)200, 10 * 8).ToArray();
        var pixels = Decode(Gif(Side, Side, new GifFrame(frame, 4, 6, 10, 8)));
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
                Assert.Equal(x is >= 4 and < 14 && y is >= 6 and < 14 ? 200 / 255f : 0f, pixels[y * Side + x]);
    }

    [Theory]
    [InlineData(10, 10, 0, 0, 20, 12)]
    [InlineData(8, 8, 5, 3, 10, 10)]
    [InlineData(30, 20, 2, 2, 5, 5)]
    public void AGifIsMeasuredAsTheDecoderAllocatesItEvenWhenItsFirstFrameOverflowsTheScreen(int screenWidth, int screenHeight, int left, int top, int width, int height)
    {
        var gif = Gif(screenWidth, screenHeight, new GifFrame(RandomBytes(width * height, 3), left, top, width, height));
        var header = Header(gif);
        Assert.Equal(CodecSize(gif), (header.Width, header.Height));
        Assert.Equal((Math.Max(screenWidth, left + width), Math.Max(screenHeight, top + height)), (header.Width, header.Height));
    }

    [Fact]
    public void ATruncatedGifIsRefused()
    {
        var gif = Gif28(RandomBytes(Side * Side, 4));
        AssertCorrupt(gif[..(gif.Length * 2 / 3)]);
        AssertCorrupt(gif[..^2]); // the last data sub-block's terminator and the trailer
    }

    [Fact]
    public void AGifWithoutAFrameOrWithACorruptHeaderIsRefused()
    {
        var gif = Gif28(RandomBytes(Side * Side, 5));
        AssertUnrecognised(gif[..(13 + 768)]); // screen and colour table, no frame
        AssertUnrecognised([.. gif[..(13 + 768)], 0x3B]); // the trailer right away
        AssertUnrecognised(gif[..10]);
        var noDescriptor = gif.ToArray();
        noDescriptor[13 + 768] = 0x77; // neither an extension nor an image descriptor
        AssertUnrecognised(noDescriptor);
        var badCodeSize = gif.ToArray();
        badCodeSize[13 + 768 + 8 + 10] = 0xFF; // LZW minimum code size
        AssertCorrupt(badCodeSize);
    }

    [Fact]
    public void AGifClaimingAHugeScreenOrFrameIsRefusedFromTheHeaderAlone()
    {
        var huge = Gif(4, 4, new GifFrame(new byte[16], 0, 0, 4, 4));
        BinaryPrimitives.WriteUInt16LittleEndian(huge.AsSpan(6), 40000);
        BinaryPrimitives.WriteUInt16LittleEndian(huge.AsSpan(8), 40000);
        AssertRefusedFromTheHeader(huge, "40000x40000");

        var hugeFrame = Gif(4, 4, new GifFrame(new byte[16], 0, 0, 4, 4));
        var descriptor = 13 + 768 + 8; // after the graphic control extension
        Assert.Equal(0x2C, hugeFrame[descriptor]);
        BinaryPrimitives.WriteUInt16LittleEndian(hugeFrame.AsSpan(descriptor + 5), 40000);
        BinaryPrimitives.WriteUInt16LittleEndian(hugeFrame.AsSpan(descriptor + 7), 30000);
        AssertRefusedFromTheHeader(hugeFrame, "40000x30000");
    }

    // BMP

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void ABmpDecodesToThePixelsItHolds(bool topDown, bool coreHeader)
    {
        var gray = RandomBytes(Side * Side, 6);
        var bmp = Bmp(Rgb(gray), Side, Side, topDown, coreHeader);
        Assert.Equal(new ImageHeader(ImageFormat.Bmp, Side, Side), Header(bmp));
        AssertDecodesTo(gray, Decode(bmp));

        var rgb = RandomBytes(3 * Side * Side, 7);
        AssertDecodesTo(Planes(rgb), Decode(Bmp(rgb, Side, Side, topDown, coreHeader), channels: 3));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void ABmpIsMeasuredAsTheDecoderAllocatesIt(bool topDown, bool coreHeader)
    {
        var bmp = Bmp(RandomBytes(3 * 30 * 20, 8), 30, 20, topDown, coreHeader);
        Assert.Equal((30, 20), CodecSize(bmp));
        Assert.Equal(new ImageHeader(ImageFormat.Bmp, 30, 20), Header(bmp));
    }

    [Fact]
    public void ATruncatedBmpIsRefused()
    {
        var bmp = Bmp(RandomBytes(3 * Side * Side, 9), Side, Side);
        AssertCorrupt(bmp[..(bmp.Length * 2 / 3)]);
        AssertCorrupt(bmp[..^1]);
    }

    [Fact]
    public void ABmpWithACorruptHeaderIsRefused()
    {
        var bmp = Bmp(RandomBytes(3 * Side * Side, 10), Side, Side);
        AssertUnrecognised(bmp[..25]);
        var badHeaderSize = bmp.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(badHeaderSize.AsSpan(14), 7);
        AssertUnrecognised(badHeaderSize);
        var noWidth = bmp.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(noWidth.AsSpan(18), -Side);
        AssertUnrecognised(noWidth);
        var badDepth = bmp.ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(badDepth.AsSpan(28), 7); // bits per pixel
        AssertCorrupt(badDepth);
    }

    [Fact]
    public void ABmpClaimingAHugeSizeIsRefusedFromTheHeaderAlone()
    {
        var bmp = Bmp(RandomBytes(3 * 4 * 4, 11), 4, 4);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), 40000);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), -30000); // top-down: 30000 rows
        AssertRefusedFromTheHeader(bmp, "40000x30000");

        var core = Bmp(RandomBytes(3 * 4 * 4, 12), 4, 4, coreHeader: true);
        BinaryPrimitives.WriteUInt16LittleEndian(core.AsSpan(18), 40000);
        BinaryPrimitives.WriteUInt16LittleEndian(core.AsSpan(20), 40000);
        AssertRefusedFromTheHeader(core, "40000x40000");
    }

    // WebP

    private static byte[] WebPLossless(byte[] gray) => ImagePreprocessor.EncodeGray(gray, Side, Side, SKEncodedImageFormat.Webp, 100);

    private static string FirstChunk(byte[] webp) => System.Text.Encoding.ASCII.GetString(webp, 12, 4);

    [Fact]
    public void ALosslessWebPDecodesToThePixelsItHolds()
    {
        var gray = RandomBytes(Side * Side, 13);
        var webp = WebPLossless(gray);
        Assert.Equal("VP8L", FirstChunk(webp));
        Assert.Equal(new ImageHeader(ImageFormat.WebP, Side, Side), Header(webp));
        AssertDecodesTo(gray, Decode(webp));

        var rgb = RandomBytes(3 * Side * Side, 14);
        AssertDecodesTo(Planes(rgb), Decode(EncodeRgb(rgb, Side, Side, SKEncodedImageFormat.Webp, 100), channels: 3));
    }

    [Fact]
    public void ALossyWebPDecodesNearlyToItsPicture()
    {
        var gray = new byte[Side * Side];
        for (int y = 0; y < Side; y++) for (int x = 0; x < Side; x++) gray[y * Side + x] = (byte)(x < Side / 2 ? 220 : 30 + 4 * y);
        var webp = ImagePreprocessor.EncodeGray(gray, Side, Side, SKEncodedImageFormat.Webp, 90);
        Assert.Equal("VP8 ", FirstChunk(webp));
        Assert.Equal(new ImageHeader(ImageFormat.WebP, Side, Side), Header(webp));
        var pixels = Decode(webp);
        Assert.True(pixels.Select((p, i) => Math.Abs(p - gray[i] / 255f)).Average() < 0.03);

        // The top two bits of each 16-bit side are an upscaling hint, not part of the size.
        var hinted = webp.ToArray();
        hinted[27] |= 0xC0;
        hinted[29] |= 0x40;
        Assert.Equal((Side, Side), CodecSize(hinted));
        Assert.Equal(new ImageHeader(ImageFormat.WebP, Side, Side), Header(hinted));
    }

    [Theory]
    [InlineData(40, 30, 90, "VP8X")] // lossy with an ALPH chunk
    [InlineData(30, 40, 100, "VP8L")] // lossless carries alpha itself
    public void AWebPWithAlphaIsMeasuredAsTheDecoderAllocatesItAndCompositedOntoBlack(int width, int height, int quality, string chunk)
    {
        var white = Enumerable.Repeat((byte)255, 3 * width * height).ToArray();
        var webp = EncodeRgb(white, width, height, SKEncodedImageFormat.Webp, quality, alpha: 128);
        Assert.Equal(chunk, FirstChunk(webp));
        Assert.Equal(new ImageHeader(ImageFormat.WebP, width, height), Header(webp));
        Assert.Equal((width, height), CodecSize(webp));
        Assert.All(Decode(webp), p => Assert.InRange(p, 0.45f, 0.56f));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(90)]
    public void ATruncatedWebPIsRefused(int quality)
    {
        var webp = ImagePreprocessor.EncodeGray(RandomBytes(Side * Side, 15), Side, Side, SKEncodedImageFormat.Webp, quality);
        AssertCorrupt(webp[..(webp.Length * 2 / 3)]);
        AssertCorrupt(webp[..^8]);
    }

    [Fact]
    public void AWebPWithACorruptHeaderIsRefused()
    {
        var lossless = WebPLossless(RandomBytes(Side * Side, 16));
        AssertUnrecognised(lossless[..22]);
        var signature = lossless.ToArray();
        signature[20] = 0x2E;
        AssertUnrecognised(signature);
        var version = lossless.ToArray();
        version[24] |= 0x80; // version bits of the VP8L header
        AssertUnrecognised(version);

        var lossy = ImagePreprocessor.EncodeGray(RandomBytes(Side * Side, 17), Side, Side, SKEncodedImageFormat.Webp, 90);
        var startCode = lossy.ToArray();
        startCode[23] = 0x9C;
        AssertUnrecognised(startCode);
        var chunk = lossy.ToArray();
        "VP9 "u8.CopyTo(chunk.AsSpan(12));
        AssertUnrecognised(chunk);

        var garbage = lossless.ToArray();
        garbage.AsSpan(25).Fill(0xAB);
        AssertCorrupt(garbage);
    }

    [Fact]
    public void AWebPClaimingAHugeSizeIsRefusedFromTheHeaderAlone()
    {
        var lossy = ImagePreprocessor.EncodeGray(RandomBytes(16, 18), 4, 4, SKEncodedImageFormat.Webp, 90);
        BinaryPrimitives.WriteUInt16LittleEndian(lossy.AsSpan(26), 16000);
        BinaryPrimitives.WriteUInt16LittleEndian(lossy.AsSpan(28), 15000);
        AssertRefusedFromTheHeader(lossy, "16000x15000");

        var lossless = ImagePreprocessor.EncodeGray(RandomBytes(16, 19), 4, 4, SKEncodedImageFormat.Webp, 100);
        var bits = BinaryPrimitives.ReadUInt32LittleEndian(lossless.AsSpan(21)) & ~0xFFFFFFFu;
        BinaryPrimitives.WriteUInt32LittleEndian(lossless.AsSpan(21), bits | (16000 - 1) | (15000 - 1) << 14);
        AssertRefusedFromTheHeader(lossless, "16000x15000");

        var white = Enumerable.Repeat((byte)255, 3 * 16).ToArray();
        var extended = EncodeRgb(white, 4, 4, SKEncodedImageFormat.Webp, 90, alpha: 128);
        Assert.Equal("VP8X", FirstChunk(extended));
        void Write24(int offset, int value) => (extended[offset], extended[offset + 1], extended[offset + 2]) = ((byte)value, (byte)(value >> 8), (byte)(value >> 16));
        Write24(24, 40000 - 1);
        Write24(27, 30000 - 1);
        AssertRefusedFromTheHeader(extended, "40000x30000");
    }
}
