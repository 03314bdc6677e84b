using System.Runtime.CompilerServices;
using Dpq.Formats;

namespace Dpq.Tests.Formats;

/// <summary>
/// golden/segment-v1.dpqs was written once by this version's writer. Reading it proves old files stay
/// readable; rebuilding it byte for byte proves the writer did not drift. Never regenerate it for a format
/// change: add a version 2 file beside it.
/// </summary>
public sealed class GoldenSegmentTests
{
    private static string GoldenPath([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "golden", "segment-v1.dpqs");

    /// <summary>Three 4-bit items with five levels (odd, so one unused nibble), labels 0, 9 and 255.</summary>
    private static ShardSegmentBuilder GoldenBuilder()
    {
        var format = new CodeFormat(16, 5);
        var builder = new ShardSegmentBuilder(format, "golden-model-1");
        var code = new byte[format.BytesPerCode];
        format.Pack([1, 2, 3, 4, 5], code);
        builder.Add("images/000002.png", code, 9);
        format.Pack([15, 0, 15, 0, 15], code);
        builder.Add("images/000001.png", code, 0);
        format.Pack([0, 1, 0, 1, 0], code);
        builder.Add("images/é.png", code, 255);
        return builder;
    }

    [Fact]
    public void VersionOneGoldenFileReads()
    {
        var segment = ShardSegmentReader.Read(File.ReadAllBytes(GoldenPath()));
        Assert.Equal(new CodeFormat(16, 5), segment.Format);
        Assert.Equal("golden-model-1", segment.ModelVersion);
        Assert.Equal(["images/000001.png", "images/000002.png", "images/é.png"], Enumerable.Range(0, 3).Select(i => segment.Ids[i]));
        Assert.Equal([0, 9, 255], segment.Labels.ToArray());
        var code = new byte[3];
        segment.CopyCode(0, code);
        Assert.Equal([0x0F, 0x0F, 0x0F], code);
        segment.CopyCode(1, code);
        Assert.Equal([0x21, 0x43, 0x05], code);
    }

    [Fact]
    public void WriterStillProducesTheGoldenBytes()
    {
        if (Environment.GetEnvironmentVariable("DPQ_WRITE_GOLDEN") == "1") File.WriteAllBytes(GoldenPath(), GoldenBuilder().ToArray());
        Assert.Equal(File.ReadAllBytes(GoldenPath()), GoldenBuilder().ToArray());
    }
}
