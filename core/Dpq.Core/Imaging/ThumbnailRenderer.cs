using SkiaSharp;

namespace Dpq.Imaging;

/// <summary>
/// Small PNG previews of stored images for the search page: the picture as a viewer shows it (EXIF
/// orientation applied, transparency kept), shrunk to fit a square of <see cref="MaxSide"/>, never enlarged.
/// Files are checked and decoded under the same limits as query images, at the smallest scale the codec offers.
/// </summary>
public sealed class ThumbnailRenderer(ImageLimits limits)
{
    /// <summary>The largest side a caller may ask for.</summary>
    public const int MaxSide = 512;

    public const int DefaultSide = 160;

    /// <summary>Renders <paramref name="data"/> to fit <paramref name="side"/> x <paramref name="side"/>; <see cref="ImageRejectedException"/> for what cannot be shown.</summary>
    public byte[] Render(ReadOnlySpan<byte> data, int side = DefaultSide)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(side, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(side, MaxSide);
        var header = new ImagePreprocessor(1, 1, limits).Check(data);
        var longest = Math.Min(side, Math.Max(header.Width, header.Height));
        using var decoded = ImagePreprocessor.DecodeFully(data, longest, longest, limits.MaxDecodedPixels, out var origin);
        using var image = SKImage.FromBitmap(decoded);
        var (shownWidth, shownHeight) = ImagePreprocessor.SwapsSides(origin) ? (image.Height, image.Width) : (image.Width, image.Height);
        var scale = Math.Min(1.0, (double)side / Math.Max(shownWidth, shownHeight));
        var width = Math.Max(1, (int)Math.Round(shownWidth * scale));
        var height = Math.Max(1, (int)Math.Round(shownHeight * scale));
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Transparent);
            canvas.Scale((float)width / shownWidth, (float)height / shownHeight);
            canvas.Concat(ImagePreprocessor.OrientationMatrix(origin, image.Width, image.Height));
            // Pixel art and small scans (Fashion-MNIST's 28x28) stay crisp when shown larger in the page.
            var sampling = width >= shownWidth ? new SKSamplingOptions(SKFilterMode.Nearest) : new SKSamplingOptions(SKCubicResampler.Mitchell);
            canvas.DrawImage(image, 0, 0, sampling);
        }
        using var result = SKImage.FromBitmap(bitmap);
        using var png = result.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
