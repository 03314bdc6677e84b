using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using static Dpq.Formats.ShardSegmentFormat;

namespace Dpq.Formats;

/// <summary>
/// Reads segment files of versions 1 to 4. <see cref="TryRead"/> returns false when the bytes are not a segment
/// file at all (too short for the magic, or another magic); everything else that is wrong (another
/// version, impossible fields, truncation, a checksum mismatch, a model or code format other than the
/// expected one) throws <see cref="InvalidDataException"/> saying what.
/// Sections are read straight into the arrays the segment keeps, so loading needs no second copy.
/// </summary>
public static class ShardSegmentReader
{
    public static ShardSegment Read(Stream source, string? expectedModelVersion = null, CodeFormat? expectedFormat = null) =>
        TryRead(source, out var segment, expectedModelVersion, expectedFormat)
            ? segment
            : throw new InvalidDataException("not a shard segment file: it does not start with the magic \"DPQS\"");

    public static ShardSegment Read(byte[] file, string? expectedModelVersion = null, CodeFormat? expectedFormat = null) =>
        Read(new MemoryStream(file, writable: false), expectedModelVersion, expectedFormat);

    /// <summary>False when <paramref name="source"/> does not start with the segment magic (its first bytes are consumed).</summary>
    public static bool TryRead(Stream source, [NotNullWhen(true)] out ShardSegment? segment,
        string? expectedModelVersion = null, CodeFormat? expectedFormat = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        segment = null;
        var hash = new XxHash64();
        var preamble = new byte[PreambleLength];
        if (source.ReadAtLeast(preamble.AsSpan(0, Magic.Length), Magic.Length, throwOnEndOfStream: false) < Magic.Length
            || !preamble.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            return false;
        long start = source.CanSeek ? source.Position - Magic.Length : 0;
        ReadExactly(source, preamble.AsSpan(Magic.Length), "header");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(preamble.AsSpan(FieldLocations.FormatVersion));
        if (version is < Version1 or > CurrentVersion)
            throw new InvalidDataException($"segment format version {version} is not supported; this build reads versions {Version1} to {CurrentVersion}");
        var header = new byte[FixedHeaderLength(version)];
        preamble.CopyTo(header, 0);
        ReadExactly(source, header.AsSpan(PreambleLength), "header");
        hash.Append(header);

        var fields = ParseHeader(header);
        if (source.CanSeek && source.Length - start != fields.FileLength)
            throw new InvalidDataException(source.Length - start < fields.FileLength
                ? $"segment file is truncated: {source.Length - start} bytes, the header says {fields.FileLength}"
                : $"segment file has {source.Length - start - fields.FileLength} bytes after its end ({fields.FileLength} bytes)");

        var versionAndPadding = new byte[fields.HeaderLength - header.Length];
        ReadSection(source, hash, versionAndPadding, "model version");
        if (versionAndPadding.AsSpan(fields.ModelVersionLength).ContainsAnyExcept((byte)0))
            throw new InvalidDataException("segment header padding is not zero");
        string modelVersion = DecodeModelVersion(versionAndPadding.AsSpan(0, fields.ModelVersionLength));

        var (blockStarts, idBlob) = ReadIdTable(source, hash, fields.ItemCount, fields.IdBlobLength, "id");
        var labels = new byte[fields.ItemCount];
        ReadSection(source, hash, labels, "labels");
        var codes = new byte[fields.CodesLength];
        ReadSection(source, hash, codes, "codes");
        byte[]? copyCodes = null;
        if (fields.CopyCodeBytes > 0)
        {
            copyCodes = new byte[(long)fields.ItemCount * fields.CopyCodeBytes];
            ReadSection(source, hash, copyCodes, "copy codes");
        }
        byte[]? names = null;
        if (HasLabelNames(version))
        {
            names = new byte[fields.LabelNamesLength];
            ReadSection(source, hash, names, "label names");
        }
        var (removedStarts, removedBlob) = ReadIdTable(source, hash, fields.RemovedCount, fields.RemovedBlobLength, "removed id");

        Span<byte> stored = stackalloc byte[ChecksumLength];
        ReadExactly(source, stored, "checksum");
        ulong expected = BinaryPrimitives.ReadUInt64LittleEndian(stored), actual = hash.GetCurrentHashAsUInt64();
        if (expected != actual)
            throw new InvalidDataException($"segment checksum mismatch (stored {expected:x16}, computed {actual:x16}): the file is corrupt");

        // Decoded after the checksum, so a corrupt byte reads as corruption rather than as a bad name.
        string[]? labelNames = names is null ? null : LabelNameSection.Decode(names);
        FrontCodedIds removedIds;
        try
        {
            removedIds = FrontCodedIds.FromParts(fields.RemovedCount, removedStarts, removedBlob);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"segment removed ids: {e.Message}", e);
        }
        if (expectedModelVersion is not null && modelVersion != expectedModelVersion)
            throw new InvalidDataException($"segment was encoded by model '{modelVersion}', but model '{expectedModelVersion}' was expected");
        if (expectedFormat is { } wanted && fields.Format != wanted)
            throw new InvalidDataException($"segment codes are {fields.Format}, but {wanted} was expected");

        segment = new ShardSegment(fields.Format, modelVersion, FrontCodedIds.FromParts(fields.ItemCount, blockStarts, idBlob), labels, codes, copyCodes, version, labelNames,
            removedIds);
        return true;
    }

    /// <summary>Reads a front-coded id table's block starts and blob (both empty for a count and length of 0, as in files without the table).</summary>
    private static (int[] BlockStarts, byte[] Blob) ReadIdTable(Stream source, XxHash64 hash, int count, int blobLength, string what)
    {
        var blockStarts = new int[FrontCodedIds.BlockCount(count)];
        ReadSection(source, hash, MemoryMarshal.AsBytes(blockStarts.AsSpan()), $"{what} block starts");
        if (!BitConverter.IsLittleEndian) BinaryPrimitives.ReverseEndianness(blockStarts, blockStarts);
        var blob = new byte[blobLength];
        ReadSection(source, hash, blob, $"{what} blob");
        return (blockStarts, blob);
    }

    private readonly record struct HeaderFields(CodeFormat Format, int HeaderLength, int ModelVersionLength,
        int ItemCount, int IdBlobLength, int CodesLength, int CopyCodeBytes, int LabelNamesLength, int RemovedCount, int RemovedBlobLength, long FileLength);

    /// <summary>Parses a fixed header whose magic and version were checked.</summary>
    private static HeaderFields ParseHeader(ReadOnlySpan<byte> h)
    {
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(h[FieldLocations.FormatVersion..]);
        int copyCodeBytes = 0, labelNamesLength = 0;
        if (version >= Version2)
        {
            copyCodeBytes = BinaryPrimitives.ReadUInt16LittleEndian(h[FieldLocations.CopyCodeBytes..]);
            if (copyCodeBytes is not (0 or Copies.CopyCodec.CodeBytes))
                throw new InvalidDataException($"segment header has {copyCodeBytes} copy code bytes per item; expected 0 or {Copies.CopyCodec.CodeBytes}");
            var reserved = version == Version2 ? h.Slice(FieldLocations.Reserved2, FieldLengths.Reserved2) : h.Slice(FieldLocations.Reserved3, FieldLengths.Reserved3);
            if (reserved.ContainsAnyExcept((byte)0))
                throw new InvalidDataException("segment header's reserved bytes are not zero");
        }
        if (HasLabelNames(version))
        {
            labelNamesLength = BinaryPrimitives.ReadInt32LittleEndian(h[FieldLocations.LabelNamesLength..]);
            if (labelNamesLength is < 0 or > MaxLabelNames * (1 + MaxLabelNameBytes))
                throw new InvalidDataException($"segment header says the label names take {labelNamesLength} bytes; at most {MaxLabelNames * (1 + MaxLabelNameBytes)} fit");
        }
        int removedCount = 0, removedBlobLength = 0;
        if (HasRemovedIds(version))
        {
            removedCount = BinaryPrimitives.ReadInt32LittleEndian(h[FieldLocations.RemovedCount..]);
            removedBlobLength = BinaryPrimitives.ReadInt32LittleEndian(h[FieldLocations.RemovedBlobLength..]);
            if (removedCount < 0 || removedBlobLength < 0)
                throw new InvalidDataException($"segment header has {removedCount} removed ids and a {removedBlobLength}-byte removed id blob");
        }
        int codewords = BinaryPrimitives.ReadUInt16LittleEndian(h[FieldLocations.Codewords..]);
        int levels = BinaryPrimitives.ReadUInt16LittleEndian(h[FieldLocations.Levels..]);
        if (codewords is not (16 or 256) || levels is < 1 or > CodeFormat.MaxLevels)
            throw new InvalidDataException($"segment header has K={codewords}, M={levels}; K must be 16 or 256 and M from 1 to {CodeFormat.MaxLevels}");
        var format = new CodeFormat(codewords, levels);
        var layout = (CodeLayout)BinaryPrimitives.ReadUInt16LittleEndian(h[FieldLocations.CodeLayout..]);
        if (layout != BlockedCodes.For(format))
            throw new InvalidDataException($"segment code layout {(ushort)layout} does not match {format} (expected {BlockedCodes.For(format)})");
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(h[FieldLocations.HeaderLength..]);
        int modelVersionLength = BinaryPrimitives.ReadUInt16LittleEndian(h[FieldLocations.ModelVersionLength..]);
        if (modelVersionLength is 0 or > MaxModelVersionBytes || headerLength != HeaderLengthFor(version, modelVersionLength))
            throw new InvalidDataException($"segment header length {headerLength} does not fit a {modelVersionLength}-byte model version");
        int itemCount = BinaryPrimitives.ReadInt32LittleEndian(h[FieldLocations.ItemCount..]);
        int idBlobLength = BinaryPrimitives.ReadInt32LittleEndian(h[FieldLocations.IdBlobLength..]);
        long codesLength = BinaryPrimitives.ReadInt64LittleEndian(h[FieldLocations.CodesLength..]);
        long fileLength = BinaryPrimitives.ReadInt64LittleEndian(h[FieldLocations.FileLength..]);
        if (itemCount < 0 || idBlobLength < 0)
            throw new InvalidDataException($"segment header has {itemCount} items and a {idBlobLength}-byte id blob");
        long expectedCodes = BlockedCodes.LayoutLength(format, itemCount);
        if (codesLength != expectedCodes || codesLength > Array.MaxLength)
            throw new InvalidDataException($"segment header says {codesLength} code bytes; {itemCount} items of {format} need {expectedCodes}");
        if ((long)itemCount * copyCodeBytes > Array.MaxLength)
            throw new InvalidDataException($"segment header says {itemCount} items of {copyCodeBytes} copy code bytes: too large");
        long expectedFile = FileLengthFor(headerLength, itemCount, idBlobLength, codesLength, copyCodeBytes, labelNamesLength, removedCount, removedBlobLength);
        if (fileLength != expectedFile)
            throw new InvalidDataException($"segment header says the file is {fileLength} bytes; its fields add up to {expectedFile}");
        return new HeaderFields(format, headerLength, modelVersionLength, itemCount, idBlobLength, (int)codesLength, copyCodeBytes, labelNamesLength,
            removedCount, removedBlobLength, fileLength);
    }

    private static string DecodeModelVersion(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(utf8);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException("segment model version is not valid UTF-8", e);
        }
    }

    private static void ReadSection(Stream source, XxHash64 hash, Span<byte> destination, string section)
    {
        ReadExactly(source, destination, section);
        hash.Append(destination);
    }

    private static void ReadExactly(Stream source, Span<byte> destination, string section)
    {
        int read = source.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        if (read < destination.Length)
            throw new InvalidDataException($"segment file is truncated: the {section} ends after {read} of {destination.Length} bytes");
    }
}
