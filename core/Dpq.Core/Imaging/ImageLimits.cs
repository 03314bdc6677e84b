namespace Dpq.Imaging;

/// <summary>What an upload may be before it is decoded. Defaults suit thumbnails and product photos.</summary>
public sealed record ImageLimits
{
    /// <summary>Largest accepted file, in bytes.</summary>
    public long MaxBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Largest accepted width or height, in pixels.</summary>
    public int MaxSide { get; init; } = 8192;

    /// <summary>Largest accepted width x height, in pixels (what the decoder would allocate).</summary>
    public long MaxPixels { get; init; } = 24_000_000;

    public static ImageLimits Default { get; } = new();
}
