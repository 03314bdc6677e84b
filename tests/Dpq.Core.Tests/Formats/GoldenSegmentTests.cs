using System.Runtime.CompilerServices;
using Dpq.Formats;

namespace Dpq.Tests.Formats;

/// <summary>
/// golden/segment-v1.dpqs was written once by the version 1 writer, golden/segment-v2.dpqs by the
/// version 2 writer, golden/segment-v3.dpqs by the version 3 writer, golden/segment-v4.dpqs by the version 4
/// writer. Reading them proves old files stay
/// readable; rebuilding the current one byte for byte proves the writer did not drift. Never regenerate a golden file for a format change: add the
/// next version's file beside them.
/// </summary>
public sealed class GoldenSegmentTests
{
    private static string GoldenPath(int version = 1, [CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "golden", $"segment-v{version}.dpqs");

    /// <summary>
    /// Three 4-bit items with five levels (odd, so one unused nibble) as in the older files, with copy codes
    /// (one item has one, one has none, one a code of zeros) as in version 2, class names: "Ankle boot",
    /// one outside ASCII, and none, as in version 3, and removed ids (<see cref="GoldenRemovedIds"/>, added out of order).
    /// </summary>
    private static ShardSegmentBuilder GoldenBuilder()
    {
        var format = new CodeFormat(16, 5);
        var builder = new ShardSegmentBuilder(format, "golden-model-4", withCopyCodes: true);
        foreach (var id in new[] { "images/ß.png", "images/000003.png", "images/000000.png" }) builder.Remove(id);
        var code = new byte[format.BytesPerCode];
        format.Pack([1, 2, 3, 4, 5], code);
        builder.Add("images/000002.png", code, "Ankle boot", [9, 8, 7, 6, 254, 5, 4, 3, 2]);
        format.Pack([15, 0, 15, 0, 15], code);
        builder.Add("images/000001.png", code, "Écharpe");
        format.Pack([0, 1, 0, 1, 0], code);
        builder.Add("images/é.png", code, null, new byte[9]);
        return builder;
    }

    /// <summary>The ids the version 4 file removes, in UTF-8 byte order: two sharing a prefix with the items, one outside ASCII.</summary>
    private static readonly string[] GoldenRemovedIds = ["images/000000.png", "images/000003.png", "images/ß.png"];

    /// <summary>What the golden files hold: three 4-bit items with five levels under <paramref name="modelVersion"/>, of classes <paramref name="labels"/>.</summary>
    private static void AssertGoldenItems(ShardSegment segment, string modelVersion, string?[] labels)
    {
        Assert.Equal(new CodeFormat(16, 5), segment.Format);
        Assert.Equal(modelVersion, segment.ModelVersion);
        Assert.Equal(["images/000001.png", "images/000002.png", "images/é.png"], Enumerable.Range(0, 3).Select(i => segment.Ids[i]));
        Assert.Equal(labels, Enumerable.Range(0, 3).Select(segment.LabelOf));
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
        AssertGoldenItems(segment, "golden-model-1", ["0", "9", null]);
        Assert.Equal(0, segment.RemovedIds.Count);
    }

    [Fact]
    public void VersionTwoGoldenFileReads()
    {
        var segment = ShardSegmentReader.Read(File.ReadAllBytes(GoldenPath(2)));
        Assert.Equal(2, segment.FileVersion);
        AssertGoldenItems(segment, "golden-model-2", ["0", "9", null]);
        AssertGoldenCopyCodes(segment);
        Assert.Equal(0, segment.RemovedIds.Count);
    }

    /// <summary>Versions 3 and 4 hold the same items with class names; version 3 removes nothing, version 4 <see cref="GoldenRemovedIds"/>.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void GoldenFilesWithClassNamesRead(int version)
    {
        var segment = ShardSegmentReader.Read(File.ReadAllBytes(GoldenPath(version)));
        Assert.Equal(version, segment.FileVersion);
        AssertGoldenItems(segment, $"golden-model-{version}", ["Écharpe", "Ankle boot", null]);
        Assert.Equal(["Ankle boot", "Écharpe"], segment.LabelNames);
        AssertGoldenCopyCodes(segment);
        Assert.Equal(version == 3 ? [] : GoldenRemovedIds, SegmentFiles.All(segment.RemovedIds));
    }

    private static void AssertGoldenCopyCodes(ShardSegment segment)
    {
        Assert.True(Dpq.Copies.CopyCodec.IsMissing(segment.CopyCodeOf(0)));
        Assert.Equal([9, 8, 7, 6, 254, 5, 4, 3, 2], segment.CopyCodeOf(1).ToArray());
        Assert.Equal(new byte[9], segment.CopyCodeOf(2).ToArray());
    }

    [Fact]
    public void WriterStillProducesTheGoldenBytes()
    {
        if (Environment.GetEnvironmentVariable("DPQ_WRITE_GOLDEN") == "1") File.WriteAllBytes(GoldenPath(4), GoldenBuilder().ToArray());
        Assert.Equal(File.ReadAllBytes(GoldenPath(4)), GoldenBuilder().ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void AnOlderFileRewrittenIsCurrentWithTheSameItemsAndItsLabelsAsNames(int version)
    {
        var old = ShardSegmentReader.Read(File.ReadAllBytes(GoldenPath(version)));
        // Merged (compaction) and written as read (the upgrade of sealed files).
        foreach (var again in new[] { Dpq.Indexing.IndexSegments.Merge(old.Format, old.ModelVersion, [old]), old })
            AssertRewritten(old, ShardSegmentReader.Read(ShardSegmentWriter.ToArray(again)));
    }

    private static void AssertRewritten(ShardSegment old, ShardSegment rewritten)
    {
        Assert.Equal(ShardSegmentFormat.CurrentVersion, rewritten.FileVersion);
        Assert.Equal(["0", "9"], rewritten.LabelNames);
        Assert.Equal(old.Count, rewritten.Count);
        var a = new byte[3];
        var b = new byte[3];
        for (int i = 0; i < old.Count; i++)
        {
            Assert.Equal(old.Ids[i], rewritten.Ids[i]);
            Assert.Equal(old.LabelOf(i), rewritten.LabelOf(i));
            Assert.Equal(old.CopyCodeOf(i).ToArray(), rewritten.CopyCodeOf(i).ToArray());
            old.CopyCode(i, a);
            rewritten.CopyCode(i, b);
            Assert.Equal(a, b);
        }
    }
}
