using System.Buffers.Binary;
using SkiaSharp;

namespace Dpq.Tests.Imaging;

/// <summary>
/// Builds image files that SkiaSharp cannot encode (BMP, GIF), a JPEG carrying an EXIF orientation, and
/// SkiaSharp-encoded pictures, byte by byte, so the tests know exactly which pixels each file holds.
/// </summary>
internal static class TestImageFiles
{
    /// <summary>
    /// A 24-bit BMP of <paramref name="rgb"/> (R, G, B per pixel, top row first): BITMAPINFOHEADER with rows
    /// stored bottom-up, or top-down (negative height); or BITMAPCOREHEADER (bottom-up, 16-bit sizes).
    /// </summary>
    public static byte[] Bmp(ReadOnlySpan<byte> rgb, int width, int height, bool topDown = false, bool coreHeader = false)
    {
        if (rgb.Length != 3 * width * height) throw new ArgumentException("rgb must hold 3*width*height bytes", nameof(rgb));
        int stride = (3 * width + 3) & ~3;
        int infoSize = coreHeader ? 12 : 40;
        int offset = 14 + infoSize;
        var file = new byte[offset + stride * height];
        var span = file.AsSpan();
        "BM"u8.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[2..], file.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[10..], offset);
        BinaryPrimitives.WriteInt32LittleEndian(span[14..], infoSize);
        if (coreHeader)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[18..], (ushort)width);
            BinaryPrimitives.WriteUInt16LittleEndian(span[20..], (ushort)height);
            BinaryPrimitives.WriteUInt16LittleEndian(span[22..], 1); // planes
            BinaryPrimitives.WriteUInt16LittleEndian(span[24..], 24); // bits per pixel
        }
        else
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[18..], width);
            BinaryPrimitives.WriteInt32LittleEndian(span[22..], topDown ? -height : height);
            BinaryPrimitives.WriteUInt16LittleEndian(span[26..], 1);
            BinaryPrimitives.WriteUInt16LittleEndian(span[28..], 24);
            BinaryPrimitives.WriteInt32LittleEndian(span[34..], stride * height); // image size; compression 0 = BI_RGB
        }
        for (int y = 0; y < height; y++)
        {
            var row = span.Slice(offset + (topDown ? y : height - 1 - y) * stride, stride);
            for (int x = 0; x < width; x++)
            {
                var p = rgb.Slice(3 * (y * width + x), 3);
                (row[3 * x], row[3 * x + 1], row[3 * x + 2]) = (p[2], p[1], p[0]); // stored B, G, R
            }
        }
        return file;
    }

    /// <summary>A gray plane as R, G, B triples.</summary>
    public static byte[] Rgb(ReadOnlySpan<byte> gray)
    {
        var rgb = new byte[3 * gray.Length];
        for (int i = 0; i < gray.Length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
        return rgb;
    }

    /// <summary>One frame of a GIF: palette indices of a width x height rectangle at (left, top) of the screen.</summary>
    public sealed record GifFrame(byte[] Indices, int Left, int Top, int Width, int Height);

    /// <summary>
    /// A GIF89a whose global colour table is 256 grays (index i is gray i) with the given frames; two or more
    /// make an animation. The LZW data sends every pixel as a literal 9-bit code and a clear code every 128
    /// pixels, so the code table never grows past 9 bits: valid, if uncompressed.
    /// </summary>
    public static byte[] Gif(int screenWidth, int screenHeight, params GifFrame[] frames)
    {
        using var file = new MemoryStream();
        file.Write("GIF89a"u8);
        WriteUInt16(file, screenWidth);
        WriteUInt16(file, screenHeight);
        file.Write([0xF7, 0, 0]); // global colour table of 2^(7+1) entries; background 0; no aspect ratio
        for (int i = 0; i < 256; i++) file.Write([(byte)i, (byte)i, (byte)i]);
        if (frames.Length > 1) file.Write([0x21, 0xFF, 11, .. "NETSCAPE2.0"u8, 3, 1, 0, 0, 0]); // loop forever
        foreach (var frame in frames)
        {
            if (frame.Indices.Length != frame.Width * frame.Height) throw new ArgumentException("a frame's indices must hold width*height bytes", nameof(frames));
            file.Write([0x21, 0xF9, 4, 0x04, 10, 0, 0, 0]); // graphic control: keep the frame, 0.1 s, no transparency
            file.WriteByte(0x2C);
            WriteUInt16(file, frame.Left);
            WriteUInt16(file, frame.Top);
            WriteUInt16(file, frame.Width);
            WriteUInt16(file, frame.Height);
            file.WriteByte(0); // no local colour table, not interlaced
            file.WriteByte(8); // LZW minimum code size
            var lzw = LiteralLzw(frame.Indices);
            for (int i = 0; i < lzw.Length; i += 255)
            {
                var block = lzw.AsSpan(i, Math.Min(255, lzw.Length - i));
                file.WriteByte((byte)block.Length);
                file.Write(block);
            }
            file.WriteByte(0);
        }
        file.WriteByte(0x3B);
        return file.ToArray();
    }

    private static byte[] LiteralLzw(ReadOnlySpan<byte> indices)
    {
        const int Clear = 256, End = 257;
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        void Code(int code)
        {
            buffer |= code << bits;
            for (bits += 9; bits >= 8; bits -= 8, buffer >>= 8) bytes.Add((byte)buffer);
        }
        for (int i = 0; i < indices.Length; i++)
        {
            if (i % 128 == 0) Code(Clear);
            Code(indices[i]);
        }
        Code(End);
        if (bits > 0) bytes.Add((byte)buffer);
        return [.. bytes];
    }

    private static void WriteUInt16(Stream stream, int value) => stream.Write([(byte)value, (byte)(value >> 8)]);

    /// <summary>
    /// <paramref name="jpeg"/> with an APP1 Exif segment after its SOI whose only tag is Orientation
    /// (1..8, as <see cref="Turn"/> shows them).
    /// </summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        byte[] tiff =
        [
            (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF header, first IFD at 8
            0, 1, // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (byte)orientation, 0, 0, // Orientation, SHORT, count 1, value
            0, 0, 0, 0, // no next IFD
        ];
        byte[] payload = [.. "Exif\0\0"u8, .. tiff];
        int length = payload.Length + 2;
        return [jpeg[0], jpeg[1], 0xFF, 0xE1, (byte)(length >> 8), (byte)length, .. payload, .. jpeg.AsSpan(2)];
    }

    /// <summary>Encodes R, G, B triples with SkiaSharp (WebP at quality 100 is lossless).</summary>
    public static byte[] EncodeRgb(ReadOnlySpan<byte> rgb, int width, int height, SKEncodedImageFormat format, int quality, byte alpha = 255)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, alpha == 255 ? SKAlphaType.Opaque : SKAlphaType.Unpremul));
        var pixels = bitmap.GetPixelSpan();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var p = rgb.Slice(3 * (y * width + x), 3);
                var q = pixels.Slice(y * bitmap.RowBytes + 4 * x, 4);
                (q[0], q[1], q[2], q[3]) = (p[0], p[1], p[2], alpha);
            }
        using var encoded = bitmap.Encode(format, quality);
        return encoded.ToArray();
    }

    /// <summary>A width x height gray plane as a viewer shows it for EXIF orientation 1..8.</summary>
    public static (byte[] Gray, int Width, int Height) Turn(ReadOnlySpan<byte> gray, int width, int height, int orientation)
    {
        var turned = new byte[gray.Length];
        var (w, h) = orientation >= 5 ? (height, width) : (width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (tx, ty) = orientation switch
                {
                    1 => (x, y),
                    2 => (width - 1 - x, y), // mirrored
                    3 => (width - 1 - x, height - 1 - y), // 180
                    4 => (x, height - 1 - y), // mirrored top to bottom
                    5 => (y, x), // transposed
                    6 => (height - 1 - y, x), // 90 clockwise
                    7 => (height - 1 - y, width - 1 - x), // transverse
                    8 => (y, width - 1 - x), // 90 anticlockwise
                    _ => throw new ArgumentOutOfRangeException(nameof(orientation)),
                };
                turned[ty * w + tx] = gray[y * width + x];
            }
        return (turned, w, h);
    }
}
