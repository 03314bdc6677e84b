namespace Dpq.Data;

/// <summary>
/// Labelled grayscale images held as bytes: <see cref="Pixels"/> is Count x Height x Width,
/// row-major, 0..255; <see cref="Labels"/> holds one class index per image, named by <see cref="ClassNames"/>.
/// </summary>
public sealed class ImageSet
{
    /// <param name="classNames">The name of each class index; by default its decimal text.</param>
    public ImageSet(int count, int height, int width, byte[] pixels, byte[] labels, int classes, IReadOnlyList<string>? classNames = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (pixels.LongLength != (long)count * height * width)
            throw new ArgumentException($"{pixels.Length} pixels for {count} images of {height}x{width}", nameof(pixels));
        if (labels.Length != count) throw new ArgumentException($"{labels.Length} labels for {count} images", nameof(labels));
        foreach (var label in labels)
            if (label >= classes) throw new ArgumentException($"label {label} is out of range for {classes} classes", nameof(labels));
        if (classNames is not null && classNames.Count != classes)
            throw new ArgumentException($"{classNames.Count} class names for {classes} classes", nameof(classNames));
        (Count, Height, Width, Pixels, Labels, Classes) = (count, height, width, pixels, labels, classes);
        ClassNames = classNames ?? [.. Enumerable.Range(0, classes).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>The name of each class index (what blob metadata "label" and answers carry).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The class name of image <paramref name="index"/>.</summary>
    public string ClassNameOf(int index) => ClassNames[Labels[index]];

    public int Count { get; }
    public int Height { get; }
    public int Width { get; }
    public int Classes { get; }
    public byte[] Pixels { get; }
    public byte[] Labels { get; }
    public int PixelsPerImage => Height * Width;

    /// <summary>The images <paramref name="start"/> .. start+count-1 as a new set (copies).</summary>
    public ImageSet Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, Count);
        return new ImageSet(count, Height, Width,
            Pixels.AsSpan(start * PixelsPerImage, count * PixelsPerImage).ToArray(),
            Labels.AsSpan(start, count).ToArray(), Classes, ClassNames);
    }

    /// <summary>This set followed by <paramref name="other"/> (same size and classes), as a new set.</summary>
    public ImageSet Concat(ImageSet other)
    {
        if (other.Height != Height || other.Width != Width || other.Classes != Classes || !other.ClassNames.SequenceEqual(ClassNames))
            throw new ArgumentException($"cannot join {Height}x{Width} images of {Classes} classes with {other.Height}x{other.Width} of {other.Classes}", nameof(other));
        return new ImageSet(Count + other.Count, Height, Width, [.. Pixels, .. other.Pixels], [.. Labels, .. other.Labels], Classes, ClassNames);
    }

    /// <summary>Writes images start..start+count-1 as floats in [0, 1] (pixel / 255).</summary>
    public void CopyUnitPixels(int start, int count, Span<float> destination)
    {
        var source = Pixels.AsSpan(start * PixelsPerImage, count * PixelsPerImage);
        if (destination.Length < source.Length) throw new ArgumentException("destination too short", nameof(destination));
        for (int i = 0; i < source.Length; i++) destination[i] = source[i] * (1f / 255f);
    }
}
