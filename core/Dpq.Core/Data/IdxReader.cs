using System.Buffers.Binary;
using System.IO.Compression;

namespace Dpq.Data;

/// <summary>An IDX array (the MNIST file format): its dimensions and its unsigned-byte payload.</summary>
public sealed record IdxArray(int[] Dimensions, byte[] Data);

/// <summary>
/// Reads IDX files of unsigned bytes (type 0x08), gzip-compressed or plain. Layout: two zero
/// bytes, the type byte, the number of dimensions, one big-endian int32 per dimension, then the
/// data in row-major order. Anything else, including a short or over-long payload, is an
/// <see cref="InvalidDataException"/> that names the file.
/// </summary>
public static class IdxReader
{
    private const byte UnsignedByteType = 0x08;
    private const int MaxDimensions = 4;

    public static IdxArray ReadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        using var file = File.OpenRead(path);
        Span<byte> signature = stackalloc byte[2];
        int got = file.ReadAtLeast(signature, 2, throwOnEndOfStream: false);
        file.Position = 0;
        bool gzip = got == 2 && signature[0] == 0x1f && signature[1] == 0x8b;
        using Stream data = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(data, path);
        }
        catch (InvalidDataException e) when (gzip && !e.Message.StartsWith(path + ":", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: corrupt gzip stream ({e.Message})", e);
        }
    }

    /// <summary>Reads one IDX array from <paramref name="stream"/>; <paramref name="name"/> labels errors.</summary>
    public static IdxArray Read(Stream stream, string name)
    {
        Span<byte> head = stackalloc byte[4];
        ReadExactly(stream, head, name, "header");
        if (head[0] != 0 || head[1] != 0)
            throw new InvalidDataException($"{name}: not an IDX file (magic {Convert.ToHexString(head)}, expected 0000xxyy)");
        if (head[2] != UnsignedByteType)
            throw new InvalidDataException($"{name}: IDX element type 0x{head[2]:x2} is not supported (only 0x08, unsigned byte)");
        int rank = head[3];
        if (rank is < 1 or > MaxDimensions)
            throw new InvalidDataException($"{name}: IDX rank {rank} is out of range 1..{MaxDimensions}");

        Span<byte> dimBytes = stackalloc byte[4 * MaxDimensions];
        ReadExactly(stream, dimBytes[..(4 * rank)], name, "dimensions");
        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes[(4 * i)..]);
            if (dims[i] <= 0) throw new InvalidDataException($"{name}: dimension {i} is {dims[i]}, must be positive");
            total *= dims[i];
            if (total > Array.MaxLength) throw new InvalidDataException($"{name}: {string.Join('x', dims[..(i + 1)])} elements is too large");
        }

        var data = new byte[total];
        ReadExactly(stream, data, name, $"{total} data bytes ({string.Join('x', dims)})");
        if (stream.ReadByte() != -1)
            throw new InvalidDataException($"{name}: trailing bytes after {total} data bytes ({string.Join('x', dims)})");
        return new IdxArray(dims, data);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string what)
    {
        int got = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (got < buffer.Length)
            throw new InvalidDataException($"{name}: truncated: expected {buffer.Length} bytes of {what}, found {got}");
    }
}
