using System.Buffers.Binary;
using Dpq.Formats;
using Dpq.Quantization;

namespace Dpq.Tests.Quantization;

public sealed class CodebookFileTests
{
    private static readonly Codebooks s_books = TestCodebooks.Random(3, 16, 5, seed: 11);

    [Fact]
    public void RoundTripsExactly()
    {
        var bytes = CodebookFile.Serialize(s_books);
        var back = CodebookFile.Read(bytes);

        Assert.Equal((3, 16, 5), (back.M, back.K, back.D));
        Assert.Equal(s_books.Data.ToArray(), back.Data.ToArray());
        Assert.Equal(CodebookFile.HeaderLength + 3 * 16 * 5 * 4, bytes.Length);
    }

    [Fact]
    public void HeaderFieldsAreWhereTheSpecSaysLittleEndian()
    {
        var bytes = CodebookFile.Serialize(s_books);
        Assert.Equal("DPQC"u8.ToArray(), bytes[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(64, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)));
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(16, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12)));
        Assert.Equal(5, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(s_books.Data[1], BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(64 + 4)));
    }

    [Fact]
    public void IsNotThisFormatWithoutTheMagic()
    {
        Assert.False(CodebookFile.TryRead("PK\x03\x04 not codebooks"u8, out _));
        Assert.Throws<InvalidDataException>(() => CodebookFile.Read("nope"u8));
    }

    public static TheoryData<string, int, byte[]> Corruptions => new()
    {
        { "checksum", 64 + 17, [0x01] },               // a flipped payload bit
        { "version", 4, [0x02, 0x00] },                // an unknown version
        { "impossible shape", 12, [0x00, 0x02, 0x00, 0x00] }, // K = 512
        { "payload length", 24, [0x00, 0x00, 0x00, 0x01] },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void RejectsCorruption(string expected, int offset, byte[] patch)
    {
        var bytes = CodebookFile.Serialize(s_books);
        for (int i = 0; i < patch.Length; i++) bytes[offset + i] = patch.Length == 1 ? (byte)(bytes[offset + i] ^ patch[i]) : patch[i];

        var e = Assert.Throws<InvalidDataException>(() => CodebookFile.Read(bytes));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(63)]
    [InlineData(64 + 3 * 16 * 5 * 4 - 4)]
    public void RejectsTruncation(int length)
    {
        var bytes = CodebookFile.Serialize(s_books)[..length];
        Assert.Throws<InvalidDataException>(() => CodebookFile.Read(bytes));
    }

    [Fact]
    public void RejectsTrailingBytes()
    {
        var bytes = CodebookFile.Serialize(s_books).Concat(new byte[4]).ToArray();
        Assert.Contains("payload is", Assert.Throws<InvalidDataException>(() => CodebookFile.Read(bytes)).Message);
    }
}
