namespace Dpq.Imaging;

/// <summary>
/// Turns one image's bytes into model input, as <paramref name="preprocessor"/> says (size, channels, limits).
/// Throws <see cref="ImageRejectedException"/> for an image that can never be decoded; anything else it throws
/// is a fault of the decoder (a bug, or memory), which the worker keeps apart from refusals.
/// </summary>
public interface IImageDecoder
{
    void Decode(ImagePreprocessor preprocessor, ReadOnlySpan<byte> image, Span<float> pixels);
}

/// <summary>The decoder every host uses: <see cref="ImagePreprocessor.Decode"/> (SkiaSharp).</summary>
public sealed class SkiaImageDecoder : IImageDecoder
{
    public static SkiaImageDecoder Instance { get; } = new();

    public void Decode(ImagePreprocessor preprocessor, ReadOnlySpan<byte> image, Span<float> pixels) => preprocessor.Decode(image, pixels);
}
