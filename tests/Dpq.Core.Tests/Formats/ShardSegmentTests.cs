using System.Buffers.Binary;
using Dpq.Formats;
using static Dpq.Tests.Formats.SegmentFiles;

namespace Dpq.Tests.Formats;

public sealed class ShardSegmentTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 256, 4, 0 }, { 256, 4, 1 }, { 256, 3, 100 }, { 16, 8, 63 }, { 16, 8, 64 }, { 16, 5, 130 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RoundTripKeepsIdsLabelsAndCodes(int k, int m, int count)
    {
        var format = new CodeFormat(k, m);
        var built = SmallBuilder(format, count).Build();
        var read = ShardSegmentReader.Read(ShardSegmentWriter.ToArray(built));

        Assert.Equal(format, read.Format);
        Assert.Equal("model-7", read.ModelVersion);
        Assert.Equal(count, read.Count);
        var expected = new byte[format.BytesPerCode];
        var actual = new byte[format.BytesPerCode];
        for (int i = 0; i < count; i++)
        {
            Assert.Equal($"images/{i:D6}.png", read.Ids[i]);
            Assert.Equal(SegmentFiles.Label(i), read.LabelOf(i));
            built.CopyCode(i, expected);
            read.CopyCode(i, actual);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void BuilderSortsByIdSoInsertionOrderDoesNotChangeTheFile()
    {
        var format = new CodeFormat(16, 8);
        Assert.Equal(SmallBuilder(format, 70, seed: 1).ToArray(), SmallBuilder(format, 70, seed: 1).ToArray());

        var a = new ShardSegmentBuilder(format, "m");
        var b = new ShardSegmentBuilder(format, "m");
        byte[] x = [1, 2, 3, 4], y = [5, 6, 7, 8];
        a.Add("x", x, "shoe");
        a.Add("y", y, "bag");
        b.Add("y", y, "bag");
        b.Add("x", x, "shoe");
        Assert.Equal(a.ToArray(), b.ToArray());
    }

    [Fact]
    public void IdsWithSharedPrefixesAndNonAsciiDecodeAcrossBlocks()
    {
        var format = new CodeFormat(256, 1);
        var ids = Enumerable.Range(0, 40).Select(i => i % 3 == 0 ? $"dé/{i:D3}/猫" : $"d/{i}").ToList();
        var builder = new ShardSegmentBuilder(format, "m");
        foreach (var id in ids) builder.Add(id, [7]);
        var read = ShardSegmentReader.Read(builder.ToArray());
        var sorted = ids.OrderBy(id => System.Text.Encoding.UTF8.GetBytes(id), Comparer<byte[]>.Create((p, q) => p.AsSpan().SequenceCompareTo(q))).ToList();
        Assert.Equal(sorted, Enumerable.Range(0, read.Count).Select(i => read.Ids[i]));
    }

    [Fact]
    public void IndexOfFindsEveryHeldIdAndNothingElse()
    {
        foreach (var count in new[] { 0, 1, 15, 16, 17, 40, 257 })
        {
            var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m");
            for (var i = 0; i < count; i++) builder.Add(i % 3 == 0 ? $"dé/{i:D3}/猫" : $"d/{i * 2:D4}", [7]);
            var ids = builder.Build().Ids;
            for (var i = 0; i < count; i++) Assert.Equal(i, ids.IndexOf(ids[i]));
            foreach (var absent in new[] { "", "a", "d/", "d/0001", "d/00020", "d/9999", "dé/000", "é", "\uD800" })
                Assert.Equal(-1, ids.IndexOf(absent));
        }
    }

    [Fact]
    public void OneMillionIdsLikeImagePathsTakeAboutSevenBytesEach()
    {
        var format = new CodeFormat(256, 4);
        var builder = new ShardSegmentBuilder(format, "m");
        for (int i = 0; i < 100_000; i++) builder.Add($"images/{i:D6}.png", [1, 2, 3, 4]);
        var segment = builder.Build();
        // 17-byte ids share 10 to 16 bytes with their predecessor: two length bytes plus a short suffix.
        Assert.InRange(segment.Ids.HeldBytes / (double)segment.Count, 5, 9);
        Assert.Equal("images/012345.png", segment.Ids[12345]);
    }

    [Fact]
    public void BuilderRejectsBadItems()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(16, 3), "m");
        Assert.Throws<ArgumentException>(() => builder.Add("", [0, 0]));
        Assert.Throws<ArgumentException>(() => builder.Add("a", [0, 0, 0]));
        Assert.Throws<ArgumentException>(() => builder.Add("a", [0, 0x10]));
        Assert.Throws<ArgumentException>(() => builder.Add("\ud800", [0, 0]));
        Assert.Throws<ArgumentException>(() => builder.Add(new string('a', FrontCodedIds.MaxIdBytes + 1), [0, 0]));
        builder.Add("a", [0, 0]);
        builder.Add("a", [1, 0]);
        var e = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Contains("'a' was added twice", e.Message);
        Assert.Throws<ArgumentException>(() => new ShardSegmentBuilder(new CodeFormat(16, 3), ""));
        Assert.Throws<ArgumentException>(() => new ShardSegmentBuilder(default, "m"));
    }

    [Fact]
    public void TryReadSaysNoForOtherFormatsAndReadThrows()
    {
        foreach (var bytes in new[] { Array.Empty<byte>(), "DPQ"u8.ToArray(), "PK\u0003\u0004rest"u8.ToArray() })
        {
            Assert.False(ShardSegmentReader.TryRead(new MemoryStream(bytes), out var segment));
            Assert.Null(segment);
            Assert.Contains("not a shard segment", ReadFails(bytes).Message);
        }
    }

    [Fact]
    public void EveryTruncationIsRejectedFromSeekableAndForwardOnlyStreams()
    {
        var file = SmallBuilder(new CodeFormat(16, 5), 20, removed: 17).ToArray();
        for (int length = 4; length < file.Length; length++)
        {
            var prefix = file[..length];
            var seekable = ReadFails(prefix);
            Assert.Contains("truncated", seekable.Message);
            var forward = Assert.Throws<InvalidDataException>(() => ShardSegmentReader.Read(new ForwardOnlyStream(prefix)));
            Assert.Contains("truncated", forward.Message);
        }
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        var file = SmallBuilder(new CodeFormat(256, 2), 3).ToArray();
        Assert.Contains("after its end", ReadFails([.. file, 0]).Message);
    }

    [Fact]
    public void EveryFlippedBitIsRejected()
    {
        var file = SmallBuilder(new CodeFormat(256, 4), 20, removed: 17).ToArray();
        for (int i = 0; i < file.Length; i++)
        {
            foreach (int bit in new[] { 0, 7 })
            {
                var corrupt = (byte[])file.Clone();
                corrupt[i] ^= (byte)(1 << bit);
                ReadFails(corrupt);
            }
        }
    }

    [Fact]
    public void ChecksumMismatchIsReportedAsCorruption()
    {
        var file = SmallBuilder(new CodeFormat(256, 4), 20).ToArray();
        file[^20] ^= 1;
        Assert.Contains("checksum mismatch", ReadFails(file).Message);
    }

    [Fact]
    public void AnotherFormatVersionIsNamedInTheError()
    {
        var file = SmallBuilder(new CodeFormat(256, 4), 2).ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), 5);
        Reseal(file);
        Assert.Contains("version 5 is not supported", ReadFails(file).Message);
    }

    [Fact]
    public void CopyCodesRoundTripAndItemsWithoutOneAreMissing()
    {
        var format = new CodeFormat(256, 2);
        var builder = new ShardSegmentBuilder(format, "m", withCopyCodes: true);
        byte[] copy = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        builder.Add("b", [20, 21], "hat", copy);
        builder.Add("a", [10, 11], "coat");
        var segment = ShardSegmentReader.Read(builder.ToArray());
        Assert.True(segment.HasCopyCodes);
        Assert.Equal(ShardSegmentFormat.CurrentVersion, segment.FileVersion);
        Assert.True(Dpq.Copies.CopyCodec.IsMissing(segment.CopyCodeOf(0)));
        Assert.Equal(copy, segment.CopyCodeOf(1).ToArray());

        // The scan's view: the first four bytes of each, same ids and labels.
        var view = segment.CopyCodes!;
        Assert.Equal(Dpq.Copies.CopyCodec.Format, view.Format);
        Assert.Equal(["a", "b"], Enumerable.Range(0, 2).Select(i => view.Ids[i]));
        Assert.Equal(["coat", "hat"], Enumerable.Range(0, 2).Select(view.LabelOf));
        var code = new byte[Dpq.Copies.CopyCodec.ScanBytes];
        view.CopyCode(1, code);
        Assert.Equal(copy[..Dpq.Copies.CopyCodec.ScanBytes], code);
        view.CopyCode(0, code);
        Assert.Equal(Dpq.Copies.CopyCodec.Missing, code[Dpq.Copies.CopyCodec.CrossByte]);
    }

    [Fact]
    public void ASegmentWithoutCopyCodesHasNone()
    {
        var segment = ShardSegmentReader.Read(SmallBuilder(new CodeFormat(256, 4), 5).ToArray());
        Assert.False(segment.HasCopyCodes);
        Assert.Null(segment.CopyCodes);
        Assert.True(segment.CopyCodeOf(0).IsEmpty);
    }

    [Fact]
    public void ACopyCodeOfTheWrongLengthIsRefused()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m", withCopyCodes: true);
        Assert.Throws<ArgumentException>(() => builder.Add("a", [1], null, [1, 2, 3]));
    }

    [Fact]
    public void ImpossibleCopyCodeFieldsBehindAValidChecksumAreRejected()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m", withCopyCodes: true);
        builder.Add("a", [1]);
        var file = builder.ToArray();
        var badBytes = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(badBytes.AsSpan(40), 5);
        Reseal(badBytes);
        Assert.Contains("5 copy code bytes", ReadFails(badBytes).Message);

        var badReserved = (byte[])file.Clone();
        badReserved[47] = 1;
        Reseal(badReserved);
        Assert.Contains("reserved", ReadFails(badReserved).Message);
    }

    [Fact]
    public void LabelNamesRoundTripAndImpossibleOnesBehindAValidChecksumAreRejected()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m");
        builder.Add("c", [3], "shoe");
        builder.Add("a", [1], "bag");
        builder.Add("b", [2]);
        builder.Add("d", [4], "bag");
        var file = builder.ToArray();
        var segment = ShardSegmentReader.Read(file);
        Assert.Equal(["bag", "shoe"], segment.LabelNames);
        Assert.Equal(["bag", null, "shoe", "bag"], Enumerable.Range(0, 4).Select(segment.LabelOf));
        Assert.True(segment.TryGetLabelByte("shoe", out var shoe));
        Assert.Equal(1, shoe);
        Assert.False(segment.TryGetLabelByte("hat", out _));

        // Names section "\x03bag\x04shoe" ends just before the checksum; labels are the N bytes after the id blob.
        int names = file.Length - ShardSegmentFormat.ChecksumLength - 9;
        var unsorted = (byte[])file.Clone();
        "zag"u8.CopyTo(unsorted.AsSpan(names + 1));
        Reseal(unsorted);
        Assert.Contains("not unique and in order", ReadFails(unsorted).Message);

        var pastTheEnd = (byte[])file.Clone();
        pastTheEnd[names + 4] = 9;
        Reseal(pastTheEnd);
        Assert.Contains("past the end of the names section", ReadFails(pastTheEnd).Message);

        var unnamedByte = (byte[])file.Clone();
        int labels = names - 4; // the codes (one byte each) sit between labels and names
        Assert.Equal([0, 255, 1, 0], unnamedByte[(labels - 4)..labels]);
        unnamedByte[labels - 4] = 7;
        Reseal(unnamedByte);
        Assert.Contains("label byte 7", ReadFails(unnamedByte).Message);
    }

    [Fact]
    public void MoreClassNamesThanAShardHoldsAreRefusedWhenBuilding()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m");
        for (int i = 0; i <= ShardSegmentFormat.MaxLabelNames; i++) builder.Add($"i{i}", [1], $"class {i}");
        Assert.Contains("at most 255 class names", Assert.Throws<InvalidOperationException>(() => builder.Build()).Message);
        Assert.Throws<ArgumentException>(() => builder.Add("x", [1], new string('a', 256)));
        Assert.Throws<ArgumentException>(() => builder.Add("x", [1], ""));
    }

    [Fact]
    public void UnsortedIdsBehindAValidChecksumAreRejected()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m");
        builder.Add("a", [1]);
        builder.Add("b", [2]);
        var file = builder.ToArray();
        int header = ShardSegmentFormat.HeaderLengthFor(ShardSegmentFormat.CurrentVersion, 1);
        // Blob after one 4-byte block start: [0,1,'a'][0,1,'b']; make the second id "a" again.
        Assert.Equal((byte)'b', file[header + 4 + 5]);
        file[header + 4 + 5] = (byte)'a';
        Reseal(file);
        Assert.Contains("not greater than id 0", ReadFails(file).Message);
    }

    [Fact]
    public void ImpossibleHeaderFieldsBehindAValidChecksumAreRejected()
    {
        var file = SmallBuilder(new CodeFormat(16, 8), 10).ToArray();
        var badK = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(badK.AsSpan(8), 17);
        Reseal(badK);
        Assert.Contains("K=17", ReadFails(badK).Message);

        var badLayout = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(badLayout.AsSpan(12), (ushort)CodeLayout.RowMajor);
        Reseal(badLayout);
        Assert.Contains("layout", ReadFails(badLayout).Message);
    }

    [Fact]
    public void MismatchedModelOrCodeFormatIsRejected()
    {
        var file = SmallBuilder(new CodeFormat(16, 8), 10).ToArray();
        Assert.NotNull(ShardSegmentReader.Read(file, "model-7", new CodeFormat(16, 8)));
        var model = Assert.Throws<InvalidDataException>(() => ShardSegmentReader.Read(file, expectedModelVersion: "model-8"));
        Assert.Contains("'model-7'", model.Message);
        var format = Assert.Throws<InvalidDataException>(() => ShardSegmentReader.Read(file, expectedFormat: new CodeFormat(256, 4)));
        Assert.Contains("K=16, M=8", format.Message);
    }

    [Fact]
    public void RemovedIdsRoundTripSortedAcrossBlocksBesideTheItems()
    {
        var format = new CodeFormat(16, 5);
        var built = SmallBuilder(format, 30, removed: 0).Build();
        var builder = SmallBuilder(format, 30);
        var removed = Enumerable.Range(0, 40).Select(i => i % 3 == 0 ? $"gone/é{i:D3}" : $"gone/{i}").ToList();
        foreach (var id in removed.AsEnumerable().Reverse()) builder.Remove(id);
        builder.Remove(removed[0]); // removing twice is removing once
        var read = ShardSegmentReader.Read(builder.ToArray());

        Assert.Equal(ShardSegmentFormat.CurrentVersion, read.FileVersion);
        var sorted = removed.OrderBy(id => System.Text.Encoding.UTF8.GetBytes(id), Comparer<byte[]>.Create((p, q) => p.AsSpan().SequenceCompareTo(q))).ToList();
        Assert.Equal(sorted, All(read.RemovedIds));
        Assert.All(removed, id => Assert.True(read.RemovedIds.IndexOf(id) >= 0));
        Assert.Equal(-1, read.RemovedIds.IndexOf("images/000001.png"));
        Assert.Equal(built.Count, read.Count);
        var expected = new byte[format.BytesPerCode];
        var actual = new byte[format.BytesPerCode];
        for (int i = 0; i < read.Count; i++)
        {
            Assert.Equal(built.Ids[i], read.Ids[i]);
            Assert.Equal(built.LabelOf(i), read.LabelOf(i));
            built.CopyCode(i, expected);
            read.CopyCode(i, actual);
            Assert.Equal(expected, actual);
        }
        // The copy scan's view removes the same ids.
        Assert.Equal(read.RemovedIds, read.CopyCodesOrMissing().RemovedIds);

        var onlyRemovals = new ShardSegmentBuilder(format, "m");
        onlyRemovals.Remove("x");
        var alone = ShardSegmentReader.Read(onlyRemovals.ToArray());
        Assert.Equal(0, alone.Count);
        Assert.Equal("x", Assert.Single(All(alone.RemovedIds)));
    }

    [Fact]
    public void BuilderRefusesAnIdBothAddedAndRemovedAndBadRemovedIds()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m");
        builder.Add("a", [1]);
        builder.Remove("b");
        Assert.Contains("'a' is added to this segment", Assert.Throws<ArgumentException>(() => builder.Remove("a")).Message);
        Assert.Contains("'b' is removed in this segment", Assert.Throws<ArgumentException>(() => builder.Add("b", [2])).Message);
        builder.Add("c", [3]); // added after the first removal: the check still sees it
        Assert.Contains("'c' is added to this segment", Assert.Throws<ArgumentException>(() => builder.Remove("c")).Message);
        Assert.Throws<ArgumentException>(() => builder.Remove(""));
        Assert.Throws<ArgumentException>(() => builder.Remove("\ud800"));
        Assert.Throws<ArgumentException>(() => builder.Remove(new string('a', FrontCodedIds.MaxIdBytes + 1)));
        var segment = builder.Build();
        Assert.Equal(["a", "c"], All(segment.Ids));
        Assert.Equal("b", Assert.Single(All(segment.RemovedIds)));
    }

    /// <summary>A file with item "a" and removed ids "b", "c": the removed id blob [0,1,'b'][0,1,'c'] ends just before the checksum.</summary>
    private static (byte[] File, int RemovedBlob) ItemAndTwoRemovals()
    {
        var builder = new ShardSegmentBuilder(new CodeFormat(256, 1), "m");
        builder.Add("a", [1]);
        builder.Remove("c");
        builder.Remove("b");
        var file = builder.ToArray();
        int blob = file.Length - ShardSegmentFormat.ChecksumLength - 6;
        Assert.Equal([0, 1, (byte)'b', 0, 1, (byte)'c'], file[blob..(blob + 6)]);
        return (file, blob);
    }

    [Fact]
    public void ARemovedIdThatIsAlsoAnItemBehindAValidChecksumIsRejected()
    {
        var (file, blob) = ItemAndTwoRemovals();
        file[blob + 2] = (byte)'a';
        Reseal(file);
        Assert.Contains("removes id 'a', which it also holds as an item", ReadFails(file).Message);
    }

    [Fact]
    public void UnsortedRemovedIdsBehindAValidChecksumAreRejected()
    {
        var (file, blob) = ItemAndTwoRemovals();
        file[blob + 5] = (byte)'b';
        Reseal(file);
        var e = ReadFails(file);
        Assert.Contains("segment removed ids", e.Message);
        Assert.Contains("not greater than id 0", e.Message);
    }

    [Fact]
    public void ImpossibleRemovedIdFieldsBehindAValidChecksumAreRejected()
    {
        var (file, _) = ItemAndTwoRemovals();
        var negative = (byte[])file.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(negative.AsSpan(ShardSegmentFormat.FieldLocations.RemovedCount), -1);
        Reseal(negative);
        Assert.Contains("-1 removed ids", ReadFails(negative).Message);

        var longerBlob = (byte[])file.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(longerBlob.AsSpan(ShardSegmentFormat.FieldLocations.RemovedBlobLength), 7);
        Reseal(longerBlob);
        Assert.Contains("its fields add up to", ReadFails(longerBlob).Message);

        // One id fewer: the blob's last entry is left over.
        var fewer = (byte[])file.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(fewer.AsSpan(ShardSegmentFormat.FieldLocations.RemovedCount), 1);
        Reseal(fewer);
        Assert.Contains("3 bytes left over after 1 ids", ReadFails(fewer).Message);
    }
}
