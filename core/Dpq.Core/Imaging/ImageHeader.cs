using System.Buffers.Binary;

namespace Dpq.Imaging;

public enum ImageFormat { Png, Jpeg }

/// <summary>
/// Reads an image's format and pixel size from its first bytes, without decoding, so that an
/// upload claiming 40000x40000 pixels is refused before any decoder allocates for it.
/// </summary>
public readonly record struct ImageHeader(ImageFormat Format, int Width, int Height)
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>False when the bytes are not a PNG or JPEG whose size can be read.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ImageHeader header)
    {
        header = default;
        if (data.StartsWith(PngSignature)) return TryReadPng(data, out header);
        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return TryReadJpeg(data, out header);
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
}
