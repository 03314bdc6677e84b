using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using static Dpq.Formats.ShardSegmentFormat;

namespace Dpq.Formats;

/// <summary>Writes a <see cref="ShardSegment"/> as a segment file of the current version (2).</summary>
public static class ShardSegmentWriter
{
    public static void Write(ShardSegment segment, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(segment);
        ArgumentNullException.ThrowIfNull(destination);
        byte[] modelVersion = Encoding.UTF8.GetBytes(segment.ModelVersion);
        int headerLength = HeaderLengthFor(CurrentVersion, modelVersion.Length);
        var copyCodes = segment.CopyCodeArray;
        int copyCodeBytes = copyCodes is null ? 0 : Copies.CopyCodec.CodeBytes;
        var header = new byte[headerLength];
        Span<byte> h = header;
        Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.FormatVersion..], CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.HeaderLength..], (ushort)headerLength);
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.Codewords..], (ushort)segment.Format.Codewords);
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.Levels..], (ushort)segment.Format.Levels);
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.CodeLayout..], (ushort)segment.Layout);
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.ModelVersionLength..], (ushort)modelVersion.Length);
        BinaryPrimitives.WriteInt32LittleEndian(h[FieldLocations.ItemCount..], segment.Count);
        BinaryPrimitives.WriteInt32LittleEndian(h[FieldLocations.IdBlobLength..], segment.Ids.Blob.Length);
        BinaryPrimitives.WriteInt64LittleEndian(h[FieldLocations.CodesLength..], segment.LaidOutCodes.Length);
        BinaryPrimitives.WriteInt64LittleEndian(h[FieldLocations.FileLength..],
            FileLengthFor(headerLength, segment.Count, segment.Ids.Blob.Length, segment.LaidOutCodes.Length, copyCodeBytes));
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.CopyCodeBytes..], (ushort)copyCodeBytes);
        modelVersion.CopyTo(h[FieldLocations.ModelVersion2..]);

        var hash = new XxHash64();
        void Section(ReadOnlySpan<byte> bytes)
        {
            hash.Append(bytes);
            destination.Write(bytes);
        }
        Section(header);
        Section(BlockStartsLittleEndian(segment.Ids.BlockStarts));
        Section(segment.Ids.Blob);
        Section(segment.Labels);
        Section(segment.LaidOutCodes);
        if (copyCodes is not null) Section(copyCodes);
        Span<byte> checksum = stackalloc byte[ChecksumLength];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, hash.GetCurrentHashAsUInt64());
        destination.Write(checksum);
    }

    public static byte[] ToArray(ShardSegment segment)
    {
        using var stream = new MemoryStream();
        Write(segment, stream);
        return stream.ToArray();
    }

    private static ReadOnlySpan<byte> BlockStartsLittleEndian(ReadOnlySpan<int> starts)
    {
        if (BitConverter.IsLittleEndian) return MemoryMarshal.AsBytes(starts);
        var bytes = new byte[starts.Length * sizeof(int)];
        for (int i = 0; i < starts.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), starts[i]);
        return bytes;
    }
}
