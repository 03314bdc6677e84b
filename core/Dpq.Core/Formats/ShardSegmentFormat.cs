namespace Dpq.Formats;

/// <summary>
/// Version 1 of the shard segment file (docs/formats.md has the byte-by-byte table). All integers are
/// little-endian. A fixed header, the model version, zero padding to a multiple of 8, four sections
/// (id block starts, id blob, labels, codes) and an XxHash64 of every byte before it.
/// </summary>
public static class ShardSegmentFormat
{
    /// <summary>"DPQS" in ASCII.</summary>
    public static ReadOnlySpan<byte> Magic => "DPQS"u8;

    public const ushort Version1 = 1;

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
        public const int ModelVersion = FileLength + FieldLengths.FileLength;
    }

    /// <summary>Bytes before the model version.</summary>
    public const int FixedHeaderLength = FieldLocations.ModelVersion;

    /// <summary>Header length for a model version of <paramref name="modelVersionBytes"/> bytes: padded to 8 so sections start aligned.</summary>
    public static int HeaderLengthFor(int modelVersionBytes) => (FixedHeaderLength + modelVersionBytes + 7) & ~7;

    /// <summary>Total file length implied by the header fields.</summary>
    public static long FileLengthFor(int headerLength, int itemCount, int idBlobLength, long codesLength) =>
        headerLength + (long)FrontCodedIds.BlockCount(itemCount) * sizeof(int) + idBlobLength + itemCount + codesLength + ChecksumLength;
}
