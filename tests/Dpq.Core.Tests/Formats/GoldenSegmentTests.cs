using System.Runtime.CompilerServices;
using Dpq.Formats;

namespace Dpq.Tests.Formats;

/// <summary>
/// golden/segment-v1.dpqs was written once by the version 1 writer, golden/segment-v2.dpqs by the
/// version 2 writer. Reading them proves old files stay readable; rebuilding the current one byte for
/// byte proves the writer did not drift. Never regenerate a golden file for a format change: add the
/// next version's file beside them.
/// </summary>
public sealed class GoldenSegmentTests
{
    private static string GoldenPath(int version = 1, [CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "golden", $"segment-v{version}.dpqs");

    /// <summary>
    /// Three 4-bit items with five levels (odd, so one unused nibble), labels 0, 9 and 255, as in the
    /// version 1 file, plus copy codes: one item has one, one has none, one a code of zeros.
    /// </summary>
    private static ShardSegmentBuilder GoldenBuilderWithCopyCodes()
    {
        var format = new CodeFormat(16, 5);
        var builder = new ShardSegmentBuilder(format, "golden-model-2", withCopyCodes: true);
        var code = new byte[format.BytesPerCode];
        format.Pack([1, 2, 3, 4, 5], code);
        builder.Add("images/000002.png", code, 9, [9, 8, 7, 6, 254, 5, 4, 3, 2]);
        format.Pack([15, 0, 15, 0, 15], code);
        builder.Add("images/000001.png", code, 0);
        format.Pack([0, 1, 0, 1, 0], code);
        builder.Add("images/é.png", code, 255, new byte[9]);
        return builder;
    }

    /// <summary>What both golden files hold: three 4-bit items with five levels under <paramref name="modelVersion"/>.</summary>
    private static void AssertGoldenItems(ShardSegment segment, string modelVersion)
    {
        Assert.Equal(new CodeFormat(16, 5), segment.Format);
        Assert.Equal(modelVersion, segment.ModelVersion);
        Assert.Equal(["images/000001.png", "images/000002.png", "images/é.png"], Enumerable.Range(0, 3).Select(i => segment.Ids[i]));
        Assert.Equal([0, 9, 255], segment.Labels.ToArray());
        var code = new byte[3];
        segment.CopyCode(0, code);
        Assert.Equal([0x0F, 0x0F, 0x0F], code);
        segment.CopyCode(1, code);
        Assert.Equal([0x21, 0x43, 0x05], code);
    }

    [Fact]
    public void VersionOneGoldenFileReads()
    {
        var segment = ShardSegmentReader.Read(File.ReadAllBytes(GoldenPath()));
        Assert.Equal(1, segment.FileVersion);
        Assert.False(segment.HasCopyCodes);
        AssertGoldenItems(segment, "golden-model-1");
    }

    [Fact]
    public void VersionTwoGoldenFileReads()
    {
        var segment = ShardSegmentReader.Read(File.ReadAllBytes(GoldenPath(2)));
        Assert.Equal(2, segment.FileVersion);
        AssertGoldenItems(segment, "golden-model-2");
        Assert.True(Dpq.Copies.CopyCodec.IsMissing(segment.CopyCodeOf(0)));
        Assert.Equal([9, 8, 7, 6, 254, 5, 4, 3, 2], segment.CopyCodeOf(1).ToArray());
        Assert.Equal(new byte[9], segment.CopyCodeOf(2).ToArray());
    }

    [Fact]
    public void WriterStillProducesTheGoldenBytes()
    {
        if (Environment.GetEnvironmentVariable("DPQ_WRITE_GOLDEN") == "1") File.WriteAllBytes(GoldenPath(2), GoldenBuilderWithCopyCodes().ToArray());
        Assert.Equal(File.ReadAllBytes(GoldenPath(2)), GoldenBuilderWithCopyCodes().ToArray());
    }

    [Fact]
    public void AVersionOneFileRewrittenIsCurrentWithTheSameItems()
    {
        var old = ShardSegmentReader.Read(File.ReadAllBytes(GoldenPath()));
        var rewritten = ShardSegmentReader.Read(ShardSegmentWriter.ToArray(Dpq.Indexing.IndexSegments.Merge(old.Format, old.ModelVersion, [old])));
        Assert.Equal(ShardSegmentFormat.CurrentVersion, rewritten.FileVersion);
        Assert.Equal(old.Count, rewritten.Count);
        var a = new byte[3];
        var b = new byte[3];
        for (int i = 0; i < old.Count; i++)
        {
            Assert.Equal(old.Ids[i], rewritten.Ids[i]);
            Assert.Equal(old.Labels[i], rewritten.Labels[i]);
            old.CopyCode(i, a);
            rewritten.CopyCode(i, b);
            Assert.Equal(a, b);
        }
    }
}
