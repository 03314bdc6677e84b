using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace Dpq.Imaging;

/// <summary>PNG colour types this writer produces (the PNG specification's numbers).</summary>
public enum PngColor : byte { Gray = 0, Rgb = 2, Palette = 3, Rgba = 6 }

/// <summary>
/// A minimal PNG encoder for the colour types and depths that SkiaSharp's encoder does not write
/// (palette, 16-bit gray): signature, IHDR, PLTE when paletted, one zlib IDAT of unfiltered rows, IEND.
/// </summary>
public static class PngWriter
{
    /// <summary>
    /// <paramref name="samples"/> holds height rows of width pixels, each pixel's channels in PNG
    /// order at <paramref name="bitDepth"/> (8, or 16 big-endian); <paramref name="palette"/> is RGB triples for <see cref="PngColor.Palette"/>.
    /// </summary>
    public static byte[] Write(ReadOnlySpan<byte> samples, int width, int height, PngColor color, int bitDepth = 8, ReadOnlySpan<byte> palette = default)
    {
        int channels = color switch { PngColor.Gray or PngColor.Palette => 1, PngColor.Rgb => 3, PngColor.Rgba => 4, _ => throw new ArgumentOutOfRangeException(nameof(color)) };
        if (bitDepth is not (8 or 16) || (bitDepth == 16 && color == PngColor.Palette)) throw new ArgumentOutOfRangeException(nameof(bitDepth), bitDepth, "8, or 16 for non-palette images");
        int rowBytes = width * channels * bitDepth / 8;
        if (samples.Length != rowBytes * height) throw new ArgumentException($"{samples.Length} bytes for {height} rows of {rowBytes}", nameof(samples));
        if (color == PngColor.Palette && (palette.Length == 0 || palette.Length % 3 != 0 || palette.Length > 768)) throw new ArgumentException("a palette is 1-256 RGB triples", nameof(palette));

        using var file = new MemoryStream();
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        (header[8], header[9], header[10], header[11], header[12]) = ((byte)bitDepth, (byte)color, 0, 0, 0);
        Chunk(file, "IHDR"u8, header);
        if (color == PngColor.Palette) Chunk(file, "PLTE"u8, palette);
        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                for (int y = 0; y < height; y++)
                {
                    zlib.WriteByte(0); // filter: none
                    zlib.Write(samples.Slice(y * rowBytes, rowBytes));
                }
            }
            Chunk(file, "IDAT"u8, compressed.ToArray());
        }
        Chunk(file, "IEND"u8, []);
        return file.ToArray();
    }

    private static void Chunk(Stream file, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        file.Write(word);
        file.Write(type);
        file.Write(data);
        var crc = new Crc32();
        crc.Append(type);
        crc.Append(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc.GetCurrentHashAsUInt32());
        file.Write(word);
    }
}
