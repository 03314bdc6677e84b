using SkiaSharp;

namespace Dpq.Imaging;

/// <summary>An image that can never be decoded; the message says why, for the failures table.</summary>
public sealed class ImageRejectedException(string reason) : Exception(reason)
{
    public string Reason => Message;
}

/// <summary>
/// Turns uploaded bytes (PNG, JPEG, GIF's first frame, WebP, BMP) into the model's input: <see cref="Channels"/>
/// planes (1: gray; 3: R, G, B) of the model's height x width, values in [0, 1], the picture turned as its
/// EXIF orientation says a viewer shows it. Checks limits on the header before decoding anything, and decodes
/// at the smallest scale the codec offers that still covers the model input (JPEG: 1/2, 1/4 or 1/8), so a
/// large photo costs a fraction of its full size in memory.
/// </summary>
public sealed class ImagePreprocessor(int width, int height, ImageLimits? limits = null, int channels = 1)
{
    private readonly ImageLimits _limits = limits ?? ImageLimits.Default;

    public int Width { get; } = width > 0 ? width : throw new ArgumentOutOfRangeException(nameof(width));
    public int Height { get; } = height > 0 ? height : throw new ArgumentOutOfRangeException(nameof(height));

    /// <summary>1 for one gray plane, 3 for R, G and B planes.</summary>
    public int Channels { get; } = channels is 1 or 3 ? channels : throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (gray) or 3 (RGB)");

    /// <summary>The floats one image decodes to: Channels x Height x Width.</summary>
    public int PixelCount => Channels * Width * Height;

    /// <summary>Checks size and header; throws <see cref="ImageRejectedException"/> with the reason.</summary>
    public ImageHeader Check(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0) throw new ImageRejectedException("the file is empty");
        if (data.Length > _limits.MaxBytes) throw new ImageRejectedException($"the file has {data.Length} bytes; the limit is {_limits.MaxBytes}");
        if (!ImageHeader.TryRead(data, out var header)) throw new ImageRejectedException($"not a {ImageHeader.AcceptedFormats} image (unrecognised or truncated header)");
        if (header.Width > _limits.MaxSide || header.Height > _limits.MaxSide || (long)header.Width * header.Height > _limits.MaxPixels)
            throw new ImageRejectedException($"the image is {header.Width}x{header.Height} pixels; the limit is {_limits.MaxSide} per side and {_limits.MaxPixels} in all");
        return header;
    }

    /// <summary>
    /// Decodes <paramref name="data"/> into <paramref name="destination"/> (<see cref="PixelCount"/> floats in [0,1],
    /// plane after plane). Transparent pixels are composited onto black.
    /// </summary>
    public void Decode(ReadOnlySpan<byte> data, Span<float> destination)
    {
        if (destination.Length != PixelCount) throw new ArgumentException($"destination must hold {PixelCount} floats", nameof(destination));
        Check(data);
        using var decoded = DecodeFully(data, Width, Height, _limits.MaxDecodedPixels, out var origin);
        using var image = SKImage.FromBitmap(decoded);
        var info = Channels == 1
            ? new SKImageInfo(Width, Height, SKColorType.Gray8, SKAlphaType.Opaque)
            : new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Black);
            var (shownWidth, shownHeight) = SwapsSides(origin) ? (image.Height, image.Width) : (image.Width, image.Height);
            var sampling = shownWidth == Width && shownHeight == Height
                ? new SKSamplingOptions(SKFilterMode.Nearest)
                : new SKSamplingOptions(SKCubicResampler.Mitchell);
            if (origin == SKEncodedOrigin.TopLeft)
                canvas.DrawImage(image, new SKRect(0, 0, Width, Height), sampling);
            else
            {
                canvas.Scale((float)Width / shownWidth, (float)Height / shownHeight);
                canvas.Concat(OrientationMatrix(origin, image.Width, image.Height));
                canvas.DrawImage(image, 0, 0, sampling);
            }
        }
        var pixels = bitmap.GetPixelSpan();
        var rowBytes = bitmap.RowBytes;
        var plane = Width * Height;
        for (var y = 0; y < Height; y++)
        {
            var row = pixels.Slice(y * rowBytes, Width * info.BytesPerPixel);
            if (Channels == 1)
                for (var x = 0; x < Width; x++) destination[y * Width + x] = row[x] / 255f;
            else
                for (var x = 0; x < Width; x++)
                    for (var c = 0; c < 3; c++) destination[c * plane + y * Width + x] = row[4 * x + c] / 255f;
        }
    }

    /// <summary>
    /// Decodes (the first frame, for an animation) at the smallest supported scale that still covers
    /// <paramref name="width"/> x <paramref name="height"/> once turned to <paramref name="origin"/>, and insists
    /// on complete success: a truncated file would otherwise decode "incompletely" into a partly blank
    /// image and be indexed as if it were whole.
    /// </summary>
    internal static SKBitmap DecodeFully(ReadOnlySpan<byte> data, int width, int height, long maxDecodedPixels, out SKEncodedOrigin origin)
    {
        using var skData = SKData.CreateCopy(data);
        using var codec = SKCodec.Create(skData)
            ?? throw new ImageRejectedException("the image data is corrupt and could not be decoded");
        origin = codec.EncodedOrigin;
        var size = SwapsSides(origin) ? DecodeSize(codec, height, width) : DecodeSize(codec, width, height);
        if ((long)size.Width * size.Height > maxDecodedPixels)
            throw new ImageRejectedException($"the image is {codec.Info.Width}x{codec.Info.Height} pixels; decoding it takes {size.Width}x{size.Height}, "
                + $"over the limit of {maxDecodedPixels} pixels here: send a smaller image");
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels()); // frame 0; the codec leaves what it does not cover transparent
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new ImageRejectedException(result == SKCodecResult.IncompleteInput
                ? "the image data is truncated (corrupt)"
                : $"the image data is corrupt and could not be decoded ({result})");
        }
        return bitmap;
    }

    /// <summary>The smallest size the codec decodes to (scales 1/8, 1/4, 1/2, else full) that is at least the target on both sides.</summary>
    private static SKSizeI DecodeSize(SKCodec codec, int width, int height)
    {
        var best = new SKSizeI(codec.Info.Width, codec.Info.Height);
        foreach (var scale in new[] { 0.125f, 0.25f, 0.5f })
        {
            var size = codec.GetScaledDimensions(scale);
            if (size.Width >= width && size.Height >= height && (long)size.Width * size.Height < (long)best.Width * best.Height) best = size;
        }
        return best;
    }

    /// <summary>True for the EXIF orientations that turn the picture a quarter, so that it shows height x width.</summary>
    internal static bool SwapsSides(SKEncodedOrigin origin) => origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop
        or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>Maps a stored w x h picture to how a viewer shows it for <paramref name="origin"/> (EXIF orientation 1..8).</summary>
    internal static SKMatrix OrientationMatrix(SKEncodedOrigin origin, int w, int h) => origin switch
    {
        SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1), // mirrored left to right
        SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1), // turned 180
        SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1), // mirrored top to bottom
        SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1), // transposed
        SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1), // turned 90 clockwise
        SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1), // transverse
        SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1), // turned 90 anticlockwise
        _ => SKMatrix.Identity,
    };

    /// <summary>Image <paramref name="index"/> of a data set as a PNG file.</summary>
    public static byte[] EncodePng(Dpq.Data.ImageSet set, int index) =>
        EncodePng(set.Pixels.AsSpan(index * set.PixelsPerImage, set.PixelsPerImage), set.Width, set.Height);

    /// <summary>Encodes a grayscale plane (values 0..255) as PNG: what the demo uploads.</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> gray, int width, int height) => EncodeGray(gray, width, height, SKEncodedImageFormat.Png, 100);

    /// <summary>Encodes a grayscale plane (values 0..255) with SkiaSharp as <paramref name="format"/> at <paramref name="quality"/>.</summary>
    internal static byte[] EncodeGray(ReadOnlySpan<byte> gray, int width, int height, SKEncodedImageFormat format, int quality)
    {
        if (gray.Length != width * height) throw new ArgumentException("gray must hold width*height bytes", nameof(gray));
        var info = new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var dst = bitmap.GetPixelSpan();
        for (var y = 0; y < height; y++) gray.Slice(y * width, width).CopyTo(dst.Slice(y * bitmap.RowBytes, width));
        using var encoded = bitmap.Encode(format, quality);
        return encoded.ToArray();
    }
}
