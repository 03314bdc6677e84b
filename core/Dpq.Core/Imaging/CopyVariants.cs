using SkiaSharp;

namespace Dpq.Imaging;

/// <summary>Ways a user's copy of an image differs from the indexed file (the copy-retrieval evaluation's variants).</summary>
public enum CopyVariant { Exact, Jpeg75, Jpeg95, RgbPng, PalettePng, Gray16Png, AlphaPng, Shift1 }

/// <summary>Makes the file of each <see cref="CopyVariant"/> from a grayscale image, as another program would save it.</summary>
public static class CopyVariants
{
    public static IReadOnlyList<CopyVariant> All { get; } = Enum.GetValues<CopyVariant>();

    public static string Name(CopyVariant variant) => variant switch
    {
        CopyVariant.Exact => "exact bytes",
        CopyVariant.Jpeg75 => "JPEG q75",
        CopyVariant.Jpeg95 => "JPEG q95",
        CopyVariant.RgbPng => "RGB PNG",
        CopyVariant.PalettePng => "palette PNG",
        CopyVariant.Gray16Png => "16-bit gray PNG",
        CopyVariant.AlphaPng => "PNG with alpha",
        CopyVariant.Shift1 => "1-pixel shift",
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };

    /// <summary>The file for <paramref name="variant"/> of a width x height gray image (values 0..255).</summary>
    public static byte[] Make(CopyVariant variant, ReadOnlySpan<byte> gray, int width, int height)
    {
        if (gray.Length != width * height) throw new ArgumentException("gray must hold width*height bytes", nameof(gray));
        switch (variant)
        {
            case CopyVariant.Exact:
                return ImagePreprocessor.EncodePng(gray, width, height);
            case CopyVariant.Jpeg75 or CopyVariant.Jpeg95:
                return ImagePreprocessor.EncodeGray(gray, width, height, SKEncodedImageFormat.Jpeg, variant == CopyVariant.Jpeg75 ? 75 : 95);
            case CopyVariant.RgbPng:
                return PngWriter.Write(Repeat(gray, 3, alpha: false), width, height, PngColor.Rgb);
            case CopyVariant.AlphaPng:
                return PngWriter.Write(Repeat(gray, 4, alpha: true), width, height, PngColor.Rgba);
            case CopyVariant.PalettePng:
            {
                var palette = new byte[768];
                for (int i = 0; i < 256; i++) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = (byte)i;
                return PngWriter.Write(gray, width, height, PngColor.Palette, 8, palette);
            }
            case CopyVariant.Gray16Png:
            {
                var wide = new byte[gray.Length * 2];
                for (int i = 0; i < gray.Length; i++) wide[2 * i] = wide[2 * i + 1] = gray[i]; // v * 257, big-endian
                return PngWriter.Write(wide, width, height, PngColor.Gray, 16);
            }
            case CopyVariant.Shift1:
            {
                // One pixel to the right: column 0 becomes black, the last column leaves the frame.
                var shifted = new byte[gray.Length];
                for (int y = 0; y < height; y++) gray.Slice(y * width, width - 1).CopyTo(shifted.AsSpan(y * width + 1, width - 1));
                return ImagePreprocessor.EncodePng(shifted, width, height);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(variant));
        }
    }

    private static byte[] Repeat(ReadOnlySpan<byte> gray, int channels, bool alpha)
    {
        var samples = new byte[gray.Length * channels];
        for (int i = 0; i < gray.Length; i++)
        {
            for (int c = 0; c < 3; c++) samples[i * channels + c] = gray[i];
            if (alpha) samples[i * channels + 3] = 255;
        }
        return samples;
    }
}
