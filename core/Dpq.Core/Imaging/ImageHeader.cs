using System.Buffers.Binary;

namespace Dpq.Imaging;

public enum ImageFormat { Png, Jpeg, Gif, WebP, Bmp }

/// <summary>
/// Reads an image's format and pixel size from its first bytes, without decoding, so that an
/// upload claiming 40000x40000 pixels is refused before any decoder allocates for it.
/// </summary>
public readonly record struct ImageHeader(ImageFormat Format, int Width, int Height)
{
    /// <summary>The formats <see cref="TryRead"/> recognises, as a refusal names them.</summary>
    public const string AcceptedFormats = "PNG, JPEG, GIF, WebP or BMP";

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>False when the bytes are not one of <see cref="AcceptedFormats"/> whose size can be read.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ImageHeader header)
    {
        header = default;
        if (data.StartsWith(PngSignature)) return TryReadPng(data, out header);
        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return TryReadJpeg(data, out header);
        if (data.StartsWith("GIF87a"u8) || data.StartsWith("GIF89a"u8)) return TryReadGif(data, out header);
        if (data.Length >= 12 && data.StartsWith("RIFF"u8) && data.Slice(8, 4).SequenceEqual("WEBP"u8)) return TryReadWebP(data, out header);
        if (data.StartsWith("BM"u8)) return TryReadBmp(data, out header);
        return false;
    }

    private static bool TryReadPng(ReadOnlySpan<byte> data, out ImageHeader header)
    {
        // Signature (8), then the IHDR chunk: length (4) "IHDR" (4) width (4) height (4), big-endian.
        header = default;
        if (data.Length < 24 || !data.Slice(12, 4).SequenceEqual("IHDR"u8)) return false;
        var width = BinaryPrimitives.ReadInt32BigEndian(data[16..]);
        var height = BinaryPrimitives.ReadInt32BigEndian(data[20..]);
        if (width <= 0 || height <= 0) return false;
        header = new ImageHeader(ImageFormat.Png, width, height);
        return true;
    }

    private static bool TryReadJpeg(ReadOnlySpan<byte> data, out ImageHeader header)
    {
        // Walk the marker segments up to a start-of-frame (SOF0..SOF15 except DHT, JPG, DAC),
        // whose payload is precision (1), height (2), width (2).
        header = default;
        var i = 2;
        while (i + 4 <= data.Length)
        {
            if (data[i] != 0xFF) return false;
            var marker = data[i + 1];
            if (marker == 0xFF) { i++; continue; } // fill byte
            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7)) { i += 2; continue; } // no length
            var length = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 2)..]);
            if (length < 2) return false;
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                if (i + 9 > data.Length) return false;
                int height = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 5)..]);
                int width = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 7)..]);
                if (width == 0 || height == 0) return false;
                header = new ImageHeader(ImageFormat.Jpeg, width, height);
                return true;
            }
            i += 2 + length;
        }
        return false;
    }

    /// <summary>
    /// The logical screen (width, height LE at 6), widened to hold the first image descriptor's frame:
    /// decoders enlarge the canvas to the first frame when it does not fit the screen, so that is
    /// the size they allocate.
    /// </summary>
    private static bool TryReadGif(ReadOnlySpan<byte> data, out ImageHeader header)
    {
        header = default;
        if (data.Length < 13) return false;
        int width = BinaryPrimitives.ReadUInt16LittleEndian(data[6..]);
        int height = BinaryPrimitives.ReadUInt16LittleEndian(data[8..]);
        var flags = data[10];
        var i = 13;
        if ((flags & 0x80) != 0) i += 3 << ((flags & 7) + 1); // global colour table
        while (i < data.Length)
        {
            switch (data[i])
            {
                case 0x21: // extension: label, then sub-blocks up to an empty one
                    i += 2;
                    while (true)
                    {
                        if (i >= data.Length) return false;
                        var size = data[i];
                        i += 1 + size;
                        if (size == 0) break;
                    }
                    break;
                case 0x2C: // image descriptor: left, top, width, height (LE), flags
                    if (i + 10 > data.Length) return false;
                    int right = BinaryPrimitives.ReadUInt16LittleEndian(data[(i + 1)..]) + BinaryPrimitives.ReadUInt16LittleEndian(data[(i + 5)..]);
                    int bottom = BinaryPrimitives.ReadUInt16LittleEndian(data[(i + 3)..]) + BinaryPrimitives.ReadUInt16LittleEndian(data[(i + 7)..]);
                    width = Math.Max(width, right);
                    height = Math.Max(height, bottom);
                    if (width == 0 || height == 0) return false;
                    header = new ImageHeader(ImageFormat.Gif, width, height);
                    return true;
                default: // the trailer, or not a block: no frame to show
                    return false;
            }
        }
        return false;
    }

    /// <summary>
    /// "RIFF" length "WEBP", then the first chunk: "VP8 " (lossy key frame), "VP8L" (lossless) or
    /// "VP8X" (extended: the canvas, which is what a decoder allocates).
    /// </summary>
    private static bool TryReadWebP(ReadOnlySpan<byte> data, out ImageHeader header)
    {
        header = default;
        if (data.Length < 20) return false;
        var chunk = data.Slice(12, 4);
        var payload = data[20..];
        int width, height;
        if (chunk.SequenceEqual("VP8 "u8))
        {
            // Frame tag (3 bytes, bit 0 clear on a key frame), start code 9D 01 2A, then 14-bit width and height LE.
            if (payload.Length < 10 || (payload[0] & 1) != 0 || payload[3] != 0x9D || payload[4] != 0x01 || payload[5] != 0x2A) return false;
            width = BinaryPrimitives.ReadUInt16LittleEndian(payload[6..]) & 0x3FFF;
            height = BinaryPrimitives.ReadUInt16LittleEndian(payload[8..]) & 0x3FFF;
        }
        else if (chunk.SequenceEqual("VP8L"u8))
        {
            // Signature 0x2F, then width-1 and height-1 (14 bits each), alpha (1) and version (3, zero), LSB first.
            if (payload.Length < 5 || payload[0] != 0x2F) return false;
            var bits = BinaryPrimitives.ReadUInt32LittleEndian(payload[1..]);
            if (bits >> 29 != 0) return false;
            width = (int)(bits & 0x3FFF) + 1;
            height = (int)((bits >> 14) & 0x3FFF) + 1;
        }
        else if (chunk.SequenceEqual("VP8X"u8))
        {
            // Flags (1), reserved (3), canvas width-1 and height-1 (24 bits each, LE).
            if (payload.Length < 10) return false;
            width = (payload[4] | payload[5] << 8 | payload[6] << 16) + 1;
            height = (payload[7] | payload[8] << 8 | payload[9] << 16) + 1;
        }
        else return false;
        if (width == 0 || height == 0) return false;
        header = new ImageHeader(ImageFormat.WebP, width, height);
        return true;
    }

    /// <summary>
    /// "BM", then the DIB header after the 14-byte file header: its size (4), then uint16 width and
    /// height for BITMAPCOREHEADER (12 bytes), int32 for the BITMAPINFOHEADER family (a negative height
    /// is a top-down image of that many rows).
    /// </summary>
    private static bool TryReadBmp(ReadOnlySpan<byte> data, out ImageHeader header)
    {
        header = default;
        if (data.Length < 26) return false;
        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(data[14..]);
        int width, height;
        if (headerSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(data[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(data[20..]);
        }
        else if (headerSize is >= 16 and <= 124)
        {
            width = BinaryPrimitives.ReadInt32LittleEndian(data[18..]);
            height = BinaryPrimitives.ReadInt32LittleEndian(data[22..]);
            if (height == int.MinValue) return false;
            height = Math.Abs(height);
        }
        else return false;
        if (width <= 0 || height == 0) return false;
        header = new ImageHeader(ImageFormat.Bmp, width, height);
        return true;
    }
}
