using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using static Dpq.Formats.ShardSegmentFormat;

namespace Dpq.Formats;

/// <summary>Writes a <see cref="ShardSegment"/> as a segment file of the current version (4).</summary>
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
        // A segment read from an older file names its label bytes by their decimal text: written out, only the names in use are kept.
        var (labels, labelNames) = segment.LabelNamesStored ? (segment.LabelArray, segment.StoredLabelNames!) : RenumberLegacyLabels(segment);
        byte[] names = LabelNameSection.Encode(labelNames);
        var removed = segment.RemovedIds;
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
            FileLengthFor(headerLength, segment.Count, segment.Ids.Blob.Length, segment.LaidOutCodes.Length, copyCodeBytes, names.Length, removed.Count, removed.Blob.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(h[FieldLocations.CopyCodeBytes..], (ushort)copyCodeBytes);
        BinaryPrimitives.WriteInt32LittleEndian(h[FieldLocations.LabelNamesLength..], names.Length);
        BinaryPrimitives.WriteInt32LittleEndian(h[FieldLocations.RemovedCount..], removed.Count);
        BinaryPrimitives.WriteInt32LittleEndian(h[FieldLocations.RemovedBlobLength..], removed.Blob.Length);
        modelVersion.CopyTo(h[FieldLocations.ModelVersion4..]);

        var hash = new XxHash64();
        void Section(ReadOnlySpan<byte> bytes)
        {
            hash.Append(bytes);
            destination.Write(bytes);
        }
        void IdTable(FrontCodedIds ids)
        {
            Section(BlockStartsLittleEndian(ids.BlockStarts));
            Section(ids.Blob);
        }
        Section(header);
        IdTable(segment.Ids);
        Section(labels);
        Section(segment.LaidOutCodes);
        if (copyCodes is not null) Section(copyCodes);
        Section(names);
        IdTable(removed);
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

    /// <summary>Label bytes and names for a segment whose bytes are their own decimal names: the names in use, in ordinal order.</summary>
    private static (byte[] Labels, string[] Names) RenumberLegacyLabels(ShardSegment segment)
    {
        var used = new bool[MaxLabelNames];
        foreach (byte b in segment.Labels) if (b != NoLabel) used[b] = true;
        var names = Enumerable.Range(0, MaxLabelNames).Where(b => used[b]).Select(b => segment.LabelNames[b]).Order(StringComparer.Ordinal).ToArray();
        var renumber = new byte[256];
        renumber[NoLabel] = NoLabel;
        for (int i = 0; i < names.Length; i++) renumber[int.Parse(names[i], System.Globalization.CultureInfo.InvariantCulture)] = (byte)i;
        var labels = new byte[segment.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = renumber[segment.Labels[i]];
        return (labels, names);
    }

    private static ReadOnlySpan<byte> BlockStartsLittleEndian(ReadOnlySpan<int> starts)
    {
        if (BitConverter.IsLittleEndian) return MemoryMarshal.AsBytes(starts);
        var bytes = new byte[starts.Length * sizeof(int)];
        for (int i = 0; i < starts.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), starts[i]);
        return bytes;
    }
}
