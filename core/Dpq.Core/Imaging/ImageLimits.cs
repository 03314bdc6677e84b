namespace Dpq.Imaging;

/// <summary>What an upload may be before it is decoded. Defaults suit thumbnails and product photos.</summary>
public sealed record ImageLimits
{
    /// <summary>Largest accepted file, in bytes.</summary>
    public long MaxBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Largest accepted width or height, in pixels.</summary>
    public int MaxSide { get; init; } = 8192;

    /// <summary>Largest accepted width x height, in pixels, as the header claims it.</summary>
    public long MaxPixels { get; init; } = 24_000_000;

    /// <summary>
    /// Largest image the decoder may allocate, in pixels, after it scales at decode (JPEG decodes at 1/2,
    /// 1/4 or 1/8 when that still covers the model input; PNG and others decode at full size).
    /// </summary>
    public long MaxDecodedPixels { get; init; } = 24_000_000;

    public static ImageLimits Default { get; } = new();

    /// <summary>
    /// Query images: what the upload limits accept in the header, but at most 4 Mpx decoded (16 MB), since
    /// a query's pixels are only ever shrunk to the model input and every query host decodes one per request.
    /// </summary>
    public static ImageLimits Query { get; } = new() { MaxDecodedPixels = 2048 * 2048 };

    /// <summary>
    /// Query images for a model whose input is <paramref name="inputWidth"/> x <paramref name="inputHeight"/>: decoded
    /// at most 8 times the input per side (what JPEG's 1/8 scaling brings down to about the input), at least 1 Mpx so
    /// that ordinary pictures pass, and never more than <see cref="Query"/>. A small model's hosts so decode a quarter
    /// of what a large one's may.
    /// </summary>
    public static ImageLimits ForQuery(int inputWidth, int inputHeight) => Query with
    {
        MaxDecodedPixels = Math.Clamp(64L * inputWidth * inputHeight, 1024 * 1024, Query.MaxDecodedPixels),
    };
}
