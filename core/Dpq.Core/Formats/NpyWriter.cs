using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Dpq.Formats;

/// <summary>
/// Writes NumPy .npy files, format version 1.0: the magic "\x93NUMPY", version bytes 1 0, a
/// little-endian uint16 header length, an ASCII dict {'descr', 'fortran_order', 'shape'} padded
/// with spaces and a newline so the data starts at a multiple of 64 bytes, then the C-order data.
/// </summary>
public static class NpyWriter
{
    private const int Alignment = 64;

    public static void Write(string path, ReadOnlySpan<float> values, params int[] shape)
    {
        using var stream = File.Create(path);
        WriteHeader(stream, "<f4", shape, values.Length);
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
        }
        else
        {
            Span<byte> buffer = stackalloc byte[4];
            foreach (var v in values)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer, v);
                stream.Write(buffer);
            }
        }
    }

    public static void Write(string path, ReadOnlySpan<byte> values, params int[] shape)
    {
        using var stream = File.Create(path);
        WriteHeader(stream, "|u1", shape, values.Length);
        stream.Write(values);
    }

    private static void WriteHeader(Stream stream, string descr, int[] shape, int count)
    {
        long product = 1;
        foreach (var s in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(s);
            product *= s;
        }
        if (product != count) throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {product} values, given {count}");
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape.Select(s => s.ToString(CultureInfo.InvariantCulture)));
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int prefix = 6 + 2 + 2;
        int total = (prefix + dict.Length + 1 + Alignment - 1) / Alignment * Alignment;
        string header = dict.PadRight(total - prefix - 1) + "\n";
        Span<byte> start = stackalloc byte[prefix];
        start[0] = 0x93;
        "NUMPY"u8.CopyTo(start[1..]);
        start[6] = 1;
        start[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(start[8..], checked((ushort)header.Length));
        stream.Write(start);
        stream.Write(Encoding.ASCII.GetBytes(header));
    }
}
