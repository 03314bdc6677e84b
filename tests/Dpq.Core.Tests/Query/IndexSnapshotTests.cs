using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Query;
using Dpq.Scan;
using Dpq.Tests.Scan;

namespace Dpq.Tests.Query;

/// <summary>Sealed segments plus a tail that rewrites some of their ids: searches see each id once, with the tail's code.</summary>
public sealed class IndexSnapshotTests
{
    [Theory]
    [InlineData(256, 4)]
    [InlineData(16, 8)]
    public void SearchSkipsReplacedItemsAndReturnsTheTopKOfWhatIsVisible(int k, int m)
    {
        var format = new CodeFormat(k, m);
        var rng = new Random(7);
        var sealedData = ScanData.Random(format, seed: 11, 300, 200);
        var sealedSegments = sealedData.Segments;
        // The tail rewrites every 7th sealed id with a new random code and adds 50 ids of its own.
        var rewritten = sealedSegments.SelectMany(s => Enumerable.Range(0, s.Count).Where(i => i % 7 == 0).Select(i => s.Ids[i])).ToList();
        var builder = new ShardSegmentBuilder(format, "model");
        var code = new byte[format.BytesPerCode];
        foreach (var id in rewritten.Concat(Enumerable.Range(0, 50).Select(i => $"tail/{i}")))
        {
            format.Pack(Enumerable.Range(0, m).Select(_ => rng.Next(k)).ToArray(), code);
            builder.Add(id, code, ScanData.Classes[rng.Next(4)]);
        }
        var tail = builder.Build();
        var hidden = ItemExclusions.Create([.. sealedSegments, tail],
            sealedSegments.SelectMany((s, si) => Enumerable.Range(0, s.Count).Where(i => i % 7 == 0).Select(i => (si, i))));
        var snapshot = new IndexSnapshot("model", [.. sealedSegments, tail], hidden, DateTimeOffset.UnixEpoch);
        Assert.Equal(500 + 50, snapshot.Items);

        foreach (var (topK, seed) in new[] { (1, 1), (10, 2), (100, 3), (1000, 4) })
        {
            var tables = ScanData.RandomTables(k, m, seed);
            foreach (var labels in new[] { null, LabelFilter.Named(["coat"]) })
            {
                var expected = Visible(snapshot, tables, labels).Take(topK).ToList();
                var actual = snapshot.Search(tables, topK, new ScanOptions { Threads = 1, Labels = labels });
                Assert.Equal(expected, actual.Select(h => (snapshot.Segments[h.Segment].Ids[h.Item], h.Score)));
                Assert.DoesNotContain(actual, h => hidden.Contains(h.Segment, h.Item));
                Assert.Throws<ArgumentException>(() => snapshot.Search(tables, topK, new ScanOptions { Exclude = hidden }));
            }
        }
    }

    [Fact]
    public void MergeKeepsTheLastItemOfEachId()
    {
        var format = new CodeFormat(256, 2);
        var older = new ShardSegmentBuilder(format, "v");
        older.Add("a", [1, 1], "bag");
        older.Add("b", [2, 2], "coat");
        var newer = new ShardSegmentBuilder(format, "v");
        newer.Add("b", [9, 9], null);
        newer.Add("c", [3, 3], "hat");
        var merged = IndexSegments.Merge(format, "v", [older.Build(), newer.Build()]);
        Assert.Equal(["a", "b", "c"], Enumerable.Range(0, merged.Count).Select(i => merged.Ids[i]));
        var b = new byte[2];
        merged.CopyCode(1, b);
        Assert.Equal(new byte[] { 9, 9 }, b);
        Assert.Equal(["bag", null, "hat"], Enumerable.Range(0, 3).Select(merged.LabelOf));
        Assert.Equal(IndexSegments.NoLabel, merged.Labels[1]);
        Assert.Throws<InvalidDataException>(() => IndexSegments.Merge(format, "other", [older.Build()]));
    }

    [Fact]
    public void MoreClassesThanASegmentHoldsKeepTheFirstInOrderAndTheRestUnlabelled()
    {
        var format = new CodeFormat(256, 1);
        var images = Enumerable.Range(0, ShardSegmentFormat.MaxLabelNames + 5)
            .Select(i => new IndexedImage(ImageId.FromBlobName($"i/{i:000}.png"), $"i/{i:000}.png", $"class {i:000}", [(byte)i], null)).ToList();
        var segment = IndexSegments.FromImages(format, "v", images);
        Assert.Equal(ShardSegmentFormat.MaxLabelNames, segment.LabelNames.Count);
        Assert.Equal("class 254", segment.LabelOf(254));
        Assert.Null(segment.LabelOf(255));
        var merged = IndexSegments.Merge(format, "v", [segment, IndexSegments.FromImages(format, "v", [images[^1] with { BlobName = "j/x.png", Id = ImageId.FromBlobName("j/x.png") }])]);
        Assert.Equal(images.Count + 1, merged.Count);
        Assert.Equal(ShardSegmentFormat.MaxLabelNames, merged.LabelNames.Count);
    }

    [Fact]
    public void ARestrictedSnapshotSearchesOnlyTheGivenImagesAndCountsTheWholeIndex()
    {
        var format = new CodeFormat(256, 1);
        IndexedImage Image(int i) => new(ImageId.FromBlobName($"r/{i}.png"), $"r/{i}.png", null, [(byte)i], null);
        var sealedSegment = IndexSegments.FromImages(format, "v", [.. Enumerable.Range(0, 150).Select(Image)]); // three bit words, the last one partial
        var tail = IndexSegments.FromImages(format, "v", [Image(7) with { Code = [200] }]); // rewrites r/7.png: the sealed one is hidden
        ShardSegment[] segments = [sealedSegment, tail];
        var snapshot = new IndexSnapshot("v", [.. segments], ItemExclusions.Create(segments, [(0, 7)]), DateTimeOffset.UnixEpoch);
        var allowed = new HashSet<ImageId> { Image(3).Id, Image(7).Id, Image(42).Id, Image(130).Id, ImageId.FromBlobName("not/indexed.png") };
        var restricted = snapshot.RestrictedTo(allowed);

        var values = new float[256];
        for (var c = 0; c < 256; c++) values[c] = c;
        var tables = new LookupTables(256, 1, values);
        var hits = restricted.Search(tables, 10, new ScanOptions());
        Assert.Equal(["r/7.png", "r/130.png", "r/42.png", "r/3.png"], hits.Select(h => restricted.Segments[h.Segment].Ids[h.Item]));
        Assert.Equal(1, restricted.Segments[hits[0].Segment].Count); // r/7.png from the tail, not its hidden sealed copy
        Assert.Equal(snapshot.Items, restricted.Items);
        Assert.Equal(10, snapshot.Search(tables, 10, new ScanOptions()).Length);
    }

    /// <summary>Every visible item scored naively from its stored code, best first, ties by (segment, item).</summary>
    private static IEnumerable<(string Id, float Score)> Visible(IndexSnapshot snapshot, LookupTables tables, LabelFilter? labels)
    {
        var all = new List<(string Id, float Score, int Segment, int Item)>();
        for (var s = 0; s < snapshot.Segments.Length; s++)
        {
            var segment = snapshot.Segments[s];
            var code = new byte[segment.Format.BytesPerCode];
            for (var i = 0; i < segment.Count; i++)
            {
                if (snapshot.Hidden.Contains(s, i) || (labels is not null && !labels.Names!.Contains(segment.LabelOf(i)))) continue;
                segment.CopyCode(i, code);
                var score = 0f;
                for (var l = 0; l < tables.Levels; l++) score += tables.Values[l * tables.Codewords + segment.Format.GetLevel(code, l)];
                all.Add((segment.Ids[i], score, s, i));
            }
        }
        return all.OrderByDescending(x => x.Score).ThenBy(x => x.Segment).ThenBy(x => x.Item).Select(x => (x.Id, x.Score));
    }
}
