using Dpq.Formats;

namespace Dpq.Tests.Formats;

public sealed class CodeFormatTests
{
    [Theory]
    [InlineData(256, 4, 4)]
    [InlineData(256, 1, 1)]
    [InlineData(16, 8, 4)]
    [InlineData(16, 5, 3)]
    [InlineData(16, 1, 1)]
    public void BytesPerCodeIsOneBytePerLevelOrTwoLevelsPerByte(int k, int m, int bytes)
    {
        var format = new CodeFormat(k, m);
        Assert.Equal(bytes, format.BytesPerCode);
        Assert.Equal(m * (k == 256 ? 8 : 4), format.CodeBits);
    }

    [Theory]
    [InlineData(256, 4)]
    [InlineData(256, 7)]
    [InlineData(16, 8)]
    [InlineData(16, 5)]
    public void PackedLevelsReadBackAndEveryPrefixIsTheLeadingBytes(int k, int m)
    {
        var format = new CodeFormat(k, m);
        var rng = new Random(11);
        var levels = Enumerable.Range(0, m).Select(_ => rng.Next(k)).ToArray();
        var code = new byte[format.BytesPerCode];
        format.Pack(levels, code);
        for (int l = 0; l < m; l++) Assert.Equal(levels[l], format.GetLevel(code, l));

        for (int prefix = 1; prefix <= m; prefix++)
        {
            var shorter = new CodeFormat(k, prefix);
            var head = code.AsSpan(0, format.BytesForPrefix(prefix));
            for (int l = 0; l < prefix; l++) Assert.Equal(levels[l], shorter.GetLevel(head, l));
        }
    }

    [Fact]
    public void FourBitLevelsFillTheLowNibbleFirst()
    {
        var format = new CodeFormat(16, 3);
        var code = new byte[2];
        format.Pack([0x1, 0x2, 0x3], code);
        Assert.Equal([0x21, 0x03], code);
    }

    [Theory]
    [InlineData(8, 4)]
    [InlineData(255, 4)]
    [InlineData(256, 0)]
    [InlineData(16, CodeFormat.MaxLevels + 1)]
    public void RejectsUnsupportedShapes(int k, int m) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new CodeFormat(k, m));

    [Fact]
    public void RejectsOutOfRangeIndicesWrongLengthsAndDirtyPadding()
    {
        var format = new CodeFormat(16, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => format.Pack([1, 16, 0], new byte[2]));
        Assert.Throws<ArgumentException>(() => format.Pack([1, 2], new byte[2]));
        Assert.Throws<ArgumentException>(() => format.Pack([1, 2, 3], new byte[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => format.GetLevel(new byte[2], 3));
        Assert.Throws<ArgumentException>(() => format.CheckPacked(new byte[] { 0, 0x10 }, "code"));
        Assert.Throws<ArgumentOutOfRangeException>(() => format.BytesForPrefix(4));
    }
}
