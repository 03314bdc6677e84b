namespace Dpq.Formats;

/// <summary>
/// The shard segment file (docs/formats.md has the byte-by-byte table). All integers are
/// little-endian. A fixed header, the model version, zero padding to a multiple of 8, the sections
/// (id block starts, id blob, labels, codes, from version 2 the copy codes, from version 3 the label
/// names, from version 4 the removed ids' block starts and blob) and an XxHash64 of every byte before it.
/// Version 2 adds one header field (copy code bytes per item, 0 or 9) and six reserved zero bytes; version 3
/// takes four of those for the length of the label names section, so a label byte names a class instead of
/// being the class; version 4 adds the removed id count and blob length after the two left. Versions 1 to 3
/// still read, without removals; in versions 1 and 2 label byte b is the class named by b's decimal text.
/// </summary>
public static class ShardSegmentFormat
{
    /// <summary>"DPQS" in ASCII.</summary>
    public static ReadOnlySpan<byte> Magic => "DPQS"u8;

    public const ushort Version1 = 1;
    public const ushort Version2 = 2;
    public const ushort Version3 = 3;
    public const ushort Version4 = 4;

    /// <summary>The version the writer writes.</summary>
    public const ushort CurrentVersion = Version4;

    public const int MaxModelVersionBytes = 256;

    public const int ChecksumLength = sizeof(ulong);

    /// <summary>Each field's length; <see cref="FieldLocations"/> places each after the previous one.</summary>
    internal static class FieldLengths
    {
        public const int Magic = 4;
        public const int FormatVersion = sizeof(ushort);
        public const int HeaderLength = sizeof(ushort);
        public const int Codewords = sizeof(ushort);
        public const int Levels = sizeof(ushort);
        public const int CodeLayout = sizeof(ushort);
        public const int ModelVersionLength = sizeof(ushort);
        public const int ItemCount = sizeof(int);
        public const int IdBlobLength = sizeof(int);
        public const int CodesLength = sizeof(long);
        public const int FileLength = sizeof(long);
        public const int CopyCodeBytes = sizeof(ushort);
        /// <summary>Version 2: six reserved bytes after the copy code bytes.</summary>
        public const int Reserved2 = 6;
        public const int LabelNamesLength = sizeof(int);
        /// <summary>Versions 3 and 4: two reserved bytes after the label names length.</summary>
        public const int Reserved3 = 2;
        public const int RemovedCount = sizeof(int);
        public const int RemovedBlobLength = sizeof(int);
    }

    internal static class FieldLocations
    {
        public const int Magic = 0;
        public const int FormatVersion = Magic + FieldLengths.Magic;
        public const int HeaderLength = FormatVersion + FieldLengths.FormatVersion;
        public const int Codewords = HeaderLength + FieldLengths.HeaderLength;
        public const int Levels = Codewords + FieldLengths.Codewords;
        public const int CodeLayout = Levels + FieldLengths.Levels;
        public const int ModelVersionLength = CodeLayout + FieldLengths.CodeLayout;
        public const int ItemCount = ModelVersionLength + FieldLengths.ModelVersionLength;
        public const int IdBlobLength = ItemCount + FieldLengths.ItemCount;
        public const int CodesLength = IdBlobLength + FieldLengths.IdBlobLength;
        public const int FileLength = CodesLength + FieldLengths.CodesLength;
        /// <summary>Where the model version starts in version 1.</summary>
        public const int ModelVersion1 = FileLength + FieldLengths.FileLength;
        public const int CopyCodeBytes = ModelVersion1;
        public const int Reserved2 = CopyCodeBytes + FieldLengths.CopyCodeBytes;
        /// <summary>Where the model version starts in versions 2 and 3.</summary>
        public const int ModelVersion2 = Reserved2 + FieldLengths.Reserved2;
        public const int LabelNamesLength = CopyCodeBytes + FieldLengths.CopyCodeBytes;
        public const int Reserved3 = LabelNamesLength + FieldLengths.LabelNamesLength;
        public const int RemovedCount = Reserved3 + FieldLengths.Reserved3;
        public const int RemovedBlobLength = RemovedCount + FieldLengths.RemovedCount;
        /// <summary>Where the model version starts in version 4.</summary>
        public const int ModelVersion4 = RemovedBlobLength + FieldLengths.RemovedBlobLength;
    }

    /// <summary>The label byte of an item without a label; label filters never match it.</summary>
    public const byte NoLabel = byte.MaxValue;

    /// <summary>Most label names one segment can hold: a label byte names one of them, and 255 means none.</summary>
    public const int MaxLabelNames = 255;

    /// <summary>Most UTF-8 bytes of one label name (its length is one byte in the names section).</summary>
    public const int MaxLabelNameBytes = 255;

    /// <summary>Bytes of every version's header that tell the rest: the magic and the version.</summary>
    public const int PreambleLength = FieldLocations.HeaderLength;

    /// <summary>Bytes before the model version, by format version.</summary>
    public static int FixedHeaderLength(ushort version) => version switch
    {
        Version1 => FieldLocations.ModelVersion1,
        Version2 or Version3 => FieldLocations.ModelVersion2,
        _ => FieldLocations.ModelVersion4,
    };

    /// <summary>Whether files of <paramref name="version"/> hold label names (else a label byte is its own decimal name).</summary>
    public static bool HasLabelNames(ushort version) => version >= Version3;

    /// <summary>Whether files of <paramref name="version"/> can remove ids (older files remove none).</summary>
    public static bool HasRemovedIds(ushort version) => version >= Version4;

    /// <summary>Header length for a model version of <paramref name="modelVersionBytes"/> bytes: padded to 8 so sections start aligned.</summary>
    public static int HeaderLengthFor(ushort version, int modelVersionBytes) => (FixedHeaderLength(version) + modelVersionBytes + 7) & ~7;

    /// <summary>Total file length implied by the header fields.</summary>
    public static long FileLengthFor(int headerLength, int itemCount, int idBlobLength, long codesLength, int copyCodeBytes = 0, int labelNamesLength = 0,
        int removedCount = 0, int removedBlobLength = 0) =>
        headerLength + IdTableLength(itemCount, idBlobLength) + itemCount + codesLength
        + (long)itemCount * copyCodeBytes + labelNamesLength + IdTableLength(removedCount, removedBlobLength) + ChecksumLength;

    /// <summary>Bytes of a front-coded id table in a file: its block starts and its blob.</summary>
    private static long IdTableLength(int count, int blobLength) => (long)FrontCodedIds.BlockCount(count) * sizeof(int) + blobLength;
}
