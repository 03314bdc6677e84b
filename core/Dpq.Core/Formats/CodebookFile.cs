using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Dpq.Quantization;

namespace Dpq.Formats;

/// <summary>
/// The codebook file (codebooks.dpqc), version 1; docs/model-format.md is the specification.
/// A 64-byte header (magic "DPQC", version, header length, M, K, D, payload length, SHA-256 of the
/// payload) then M x K x D float32 little-endian values, level-major. <see cref="TryRead"/> returns
/// false for bytes that are not this format at all (wrong magic); anything that claims to be this
/// format but is inconsistent or damaged throws <see cref="InvalidDataException"/>.
/// </summary>
public static class CodebookFile
{
    public const ushort Version1 = 1;
    public const int HeaderLength = 64;
    public const int MaxValues = 1 << 28;
    public static ReadOnlySpan<byte> Magic => "DPQC"u8;

    /// <summary>Byte offsets of the header fields, each following the previous one.</summary>
    public static class FieldLocations
    {
        public const int Magic = 0;
        public const int Version = Magic + 4;
        public const int HeaderLength = Version + 2;
        public const int M = HeaderLength + 2;
        public const int K = M + 4;
        public const int D = K + 4;
        public const int Reserved = D + 4;
        public const int PayloadLength = Reserved + 4;
        public const int PayloadSha256 = PayloadLength + 8;
        public const int End = PayloadSha256 + 32;
    }

    public static byte[] Serialize(Codebooks books)
    {
        var bytes = new byte[HeaderLength + books.Data.Length * sizeof(float)];
        var payload = bytes.AsSpan(HeaderLength);
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(books.Data).CopyTo(payload);
        }
        else
        {
            for (int i = 0; i < books.Data.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(payload[(i * 4)..], books.Data[i]);
        }
        var header = bytes.AsSpan(0, HeaderLength);
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[FieldLocations.Version..], Version1);
        BinaryPrimitives.WriteUInt16LittleEndian(header[FieldLocations.HeaderLength..], HeaderLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[FieldLocations.M..], books.M);
        BinaryPrimitives.WriteInt32LittleEndian(header[FieldLocations.K..], books.K);
        BinaryPrimitives.WriteInt32LittleEndian(header[FieldLocations.D..], books.D);
        BinaryPrimitives.WriteUInt64LittleEndian(header[FieldLocations.PayloadLength..], (ulong)payload.Length);
        SHA256.HashData(payload, header[FieldLocations.PayloadSha256..FieldLocations.End]);
        return bytes;
    }

    /// <summary>False when the bytes do not start with the magic; throws when they do but are corrupt.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out Codebooks? books)
    {
        books = null;
        if (bytes.Length < Magic.Length || !bytes[..Magic.Length].SequenceEqual(Magic)) return false;
        if (bytes.Length < FieldLocations.M) throw Corrupt($"truncated header ({bytes.Length} bytes)");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[FieldLocations.Version..]);
        books = version switch
        {
            Version1 => ReadVersion1(bytes),
            _ => throw Corrupt($"version {version} is not supported (this build reads version {Version1})"),
        };
        return true;
    }

    public static Codebooks Read(ReadOnlySpan<byte> bytes) =>
        TryRead(bytes, out var books) ? books! : throw Corrupt("not a codebook file (magic is not DPQC)");

    public static Codebooks ReadFile(string path)
    {
        try
        {
            return Read(File.ReadAllBytes(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static void WriteFile(string path, Codebooks books) => File.WriteAllBytes(path, Serialize(books));

    private static Codebooks ReadVersion1(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderLength) throw Corrupt($"truncated header ({bytes.Length} of {HeaderLength} bytes)");
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[FieldLocations.HeaderLength..]);
        if (headerLength != HeaderLength) throw Corrupt($"header length {headerLength}, version 1 has {HeaderLength}");
        int m = BinaryPrimitives.ReadInt32LittleEndian(bytes[FieldLocations.M..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(bytes[FieldLocations.K..]);
        int d = BinaryPrimitives.ReadInt32LittleEndian(bytes[FieldLocations.D..]);
        if (m < 1 || k < 2 || k > 256 || d < 1) throw Corrupt($"impossible shape M={m}, K={k}, D={d}");
        long values = (long)m * k * d;
        if (values > MaxValues) throw Corrupt($"M x K x D = {values} values exceeds the limit {MaxValues}");
        ulong payloadLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes[FieldLocations.PayloadLength..]);
        if (payloadLength != (ulong)values * sizeof(float))
            throw Corrupt($"payload length {payloadLength} does not match M x K x D x 4 = {values * sizeof(float)}");
        long actual = bytes.Length - HeaderLength;
        if (actual != (long)payloadLength) throw Corrupt($"payload is {actual} bytes, header says {payloadLength}");

        var payload = bytes[HeaderLength..];
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(payload, hash);
        if (!hash.SequenceEqual(bytes[FieldLocations.PayloadSha256..FieldLocations.End]))
            throw Corrupt("checksum mismatch: the codebook values are damaged");

        var data = new float[values];
        for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(payload[(i * 4)..]);
        try
        {
            return new Codebooks(m, k, d, data);
        }
        catch (ArgumentException e)
        {
            throw Corrupt(e.Message);
        }
    }

    private static InvalidDataException Corrupt(string message) => new($"codebook file: {message}");
}
