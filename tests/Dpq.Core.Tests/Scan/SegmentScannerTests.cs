using Dpq.Formats;
using Dpq.Scan;

namespace Dpq.Tests.Scan;

/// <summary>Every scan path, forced explicitly, returns exactly the naive reference's hits.</summary>
public sealed class SegmentScannerTests
{
    [Theory]
    [InlineData(256, 4)]
    [InlineData(256, 9)]
    [InlineData(16, 8)]
    public void EveryCountFrom0To257MatchesTheReference(int k, int m)
    {
        var format = new CodeFormat(k, m);
        for (int n = 0; n <= 257; n++)
        {
            var data = ScanData.Random(format, seed: n, n);
            data.AssertAllPathsMatch(ScanData.RandomTables(k, m, seed: 1000 + n), k: 10);
        }
    }

    [Theory]
    [InlineData(256, 3)]
    [InlineData(256, 4)]
    [InlineData(256, 8)]
    [InlineData(256, 9)]
    [InlineData(16, 5)]
    [InlineData(16, 8)]
    public void EveryPrefixLengthMatchesTheReference(int k, int m)
    {
        var data = ScanData.Random(new CodeFormat(k, m), seed: 3, 301, 64, 5);
        for (int prefix = 1; prefix <= m; prefix++)
            data.AssertAllPathsMatch(ScanData.RandomTables(k, prefix, seed: prefix), k: 17);
    }

    [Theory]
    [InlineData(256, 4)]
    [InlineData(16, 8)]
    public void KLargerThanTheItemCountReturnsEveryItem(int k, int m)
    {
        var data = ScanData.Random(new CodeFormat(k, m), seed: 4, 30, 0, 11);
        var tables = ScanData.RandomTables(k, m, seed: 5);
        data.AssertAllPathsMatch(tables, k: 100);
        Assert.Equal(41, SegmentScanner.Search(data.Segments, tables, 100).Length);
    }

    [Theory]
    [InlineData(256, 4)]
    [InlineData(16, 8)]
    public void TiesGoToTheLowerSegmentThenTheLowerItem(int k, int m)
    {
        // Table values 0, 1 and 2: sums collide all the time.
        var rng = new Random(6);
        var tables = new LookupTables(k, m, Enumerable.Range(0, k * m).Select(_ => (float)rng.Next(3)).ToArray());
        var data = ScanData.Random(new CodeFormat(k, m), seed: 7, 200, 150);
        data.AssertAllPathsMatch(tables, k: 25);

        var constant = new LookupTables(k, m, Enumerable.Repeat(0.5f, k * m).ToArray());
        var hits = SegmentScanner.Search(data.Segments, constant, 5);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => new ScanHit(0, i, 0.5f * m)), hits);
        data.AssertAllPathsMatch(constant, k: 5);
    }

    [Theory]
    [InlineData(256, 4)]
    [InlineData(256, 2)]
    [InlineData(256, 5)]
    [InlineData(16, 8)]
    public void ScoresAreTheReferenceFloatsBitForBitEvenForNegativeZero(int k, int m)
    {
        // Every entry -0f: a sum from 0f is +0f (0f + -0f), one that starts from an entry is -0f. The two
        // compare equal, so only the bits tell whether a kernel keeps the reference's summation.
        var data = ScanData.Random(new CodeFormat(k, k == 256 ? Math.Max(4, m) : 8), seed: 15, 300);
        var tables = new LookupTables(k, m, Enumerable.Repeat(-0f, k * m).ToArray());
        foreach (var path in ScanData.AllPaths)
        {
            var hits = SegmentScanner.Search(data.Segments, tables, 10, new ScanOptions { Path = path });
            Assert.Equal(10, hits.Length);
            Assert.All(hits, hit => Assert.Equal(0, BitConverter.SingleToInt32Bits(hit.Score)));
        }
    }

    [Theory]
    [InlineData(256, 4)]
    [InlineData(16, 8)]
    public void LabelFilterKeepsOnlyAllowedLabels(int k, int m)
    {
        var data = ScanData.Random(new CodeFormat(k, m), seed: 8, 500, 77);
        var tables = ScanData.RandomTables(k, m, seed: 9);
        data.AssertAllPathsMatch(tables, k: 20, LabelFilter.Of(2));
        data.AssertAllPathsMatch(tables, k: 20, LabelFilter.Of(1, 3));
        data.AssertAllPathsMatch(tables, k: 20, LabelFilter.Of(200));
        // Class names: "coat" is label byte 1 of segment 0 and byte 0 of segment 1; "bag" is only in segment 0.
        data.AssertAllPathsMatch(tables, k: 20, LabelFilter.Named(["coat"]));
        data.AssertAllPathsMatch(tables, k: 20, LabelFilter.Named(["bag", "shoe", "tie"]));
        data.AssertAllPathsMatch(tables, k: 20, LabelFilter.Named(["no such class"]));
        var coats = SegmentScanner.Search(data.Segments, tables, 200, new ScanOptions { Labels = LabelFilter.Named(["coat"]) });
        Assert.Contains(coats, hit => hit.Segment == 0);
        Assert.Contains(coats, hit => hit.Segment == 1);
        Assert.All(coats, hit => Assert.Equal("coat", data.Segments[hit.Segment].LabelOf(hit.Item)));
    }

    [Fact]
    public void AllButAndUnionLeaveOutWhatTheyWouldItemByItem()
    {
        var data = ScanData.Random(new CodeFormat(256, 4), seed: 21, 130, 64, 0, 5);
        var rng = new Random(22);
        var kept = data.Segments.Select(s => new ulong[(s.Count + 63) >> 6]).ToArray();
        var keptItems = new HashSet<(int, int)>();
        for (int s = 0; s < data.Segments.Count; s++)
            for (int i = 0; i < data.Segments[s].Count; i++)
                if (rng.Next(3) == 0) { kept[s][i >> 6] |= 1UL << i; keptItems.Add((s, i)); }
        var allBut = ItemExclusions.AllBut(data.Segments, kept);
        var expected = ItemExclusions.Create(data.Segments, Positions(data).Where(p => !keptItems.Contains(p)));
        Assert.Equal(expected.Count, allBut.Count);
        Assert.All(Positions(data), p => Assert.Equal(expected.Contains(p.Item1, p.Item2), allBut.Contains(p.Item1, p.Item2)));
        Assert.True(allBut.Fits(data.Segments));

        var other = ItemExclusions.Create(data.Segments, Positions(data).Where(p => rng.Next(4) == 0).ToList());
        var union = allBut.Union(other);
        Assert.All(Positions(data), p => Assert.Equal(allBut.Contains(p.Item1, p.Item2) || other.Contains(p.Item1, p.Item2), union.Contains(p.Item1, p.Item2)));
        Assert.Equal(Positions(data).Count(p => union.Contains(p.Item1, p.Item2)), union.Count);
        Assert.Throws<ArgumentException>(() => allBut.Union(ItemExclusions.Create([data.Segments[0]], [])));
    }

    private static IEnumerable<(int, int)> Positions(ScanData data) =>
        data.Segments.SelectMany((s, si) => Enumerable.Range(0, s.Count).Select(i => (si, i)));

    [Theory]
    [InlineData(256, 4)]
    [InlineData(16, 8)]
    public void ExcludedItemsAreNeverReturnedAndTheRestKeepTheirOrder(int k, int m)
    {
        var data = ScanData.Random(new CodeFormat(k, m), seed: 16, 400, 130);
        var tables = ScanData.RandomTables(k, m, seed: 17);
        // Leave out the reference's own best 60 (every path must then reach past them) and a scatter of others.
        var left = data.Reference(tables, 60).Select(h => (h.Segment, h.Item)).Concat(Enumerable.Range(0, 15).Select(i => (1, 9 * i))).ToList();
        var exclude = ItemExclusions.Create(data.Segments, [.. left, left[0]]); // a repeat counts once
        Assert.Equal(left.Distinct().Count(), exclude.Count);
        data.AssertAllPathsMatch(tables, k: 20, exclude: exclude);
        data.AssertAllPathsMatch(tables, k: 20, LabelFilter.Of(0, 3), exclude);
        var hits = SegmentScanner.Search(data.Segments, tables, 1000, new ScanOptions { Exclude = exclude });
        Assert.Equal(530 - exclude.Count, hits.Length);
        Assert.DoesNotContain(hits, h => exclude.Contains(h.Segment, h.Item));

        var fewer = ItemExclusions.Create([data.Segments[0]], []);
        var otherSizes = ItemExclusions.Create([data.Segments[1], data.Segments[0]], []);
        Assert.Throws<ArgumentException>(() => SegmentScanner.Search(data.Segments, tables, 5, new ScanOptions { Exclude = fewer }));
        Assert.Throws<ArgumentException>(() => SegmentScanner.Search(data.Segments, tables, 5, new ScanOptions { Exclude = otherSizes }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ItemExclusions.Create(data.Segments, [(1, 130)]));
    }

    [Theory]
    [InlineData(256, 4)]
    [InlineData(16, 8)]
    public void CoarseQuantizationStillReturnsExactHits(int k, int m)
    {
        // Level 0 spans a range 30 times wider than the others, so the shared 8-bit scale leaves the
        // other levels a few steps each and rounding reorders many near neighbours of the k-th item:
        // the slack must keep every true top-k item.
        var rng = new Random(10);
        var values = new float[k * m];
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextDouble() * (i < k ? 30f : 1f);
        var data = ScanData.Random(new CodeFormat(k, m), seed: 11, 5000);
        data.AssertAllPathsMatch(new LookupTables(k, m, values), k: 50);
    }

    [Fact]
    public void ManyChunksOnAllCoresMatchOneThread()
    {
        var data = ScanData.Random(new CodeFormat(16, 8), seed: 12, 3000, 2000);
        var tables = ScanData.RandomTables(16, 8, seed: 13);
        var one = SegmentScanner.Search(data.Segments, tables, 100, new ScanOptions { Threads = 1 });
        var all = SegmentScanner.Search(data.Segments, tables, 100, new ScanOptions { Threads = 0, ChunkItems = 128 });
        Assert.Equal(data.Reference(tables, 100), one);
        Assert.Equal(one, all);
    }

    [Fact]
    public void RejectsInconsistentRequests()
    {
        var data = ScanData.Random(new CodeFormat(16, 8), seed: 14, 10);
        var other = ScanData.Random(new CodeFormat(16, 6), seed: 14, 10);
        var tables = ScanData.RandomTables(16, 8, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => SegmentScanner.Search(data.Segments, tables, 0));
        Assert.Throws<ArgumentException>(() => SegmentScanner.Search(data.Segments, ScanData.RandomTables(256, 4, 1), 5));
        Assert.Throws<ArgumentException>(() => SegmentScanner.Search(other.Segments, tables, 5));
        Assert.Throws<ArgumentException>(() => SegmentScanner.Search([.. data.Segments, .. other.Segments], ScanData.RandomTables(16, 2, 1), 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => SegmentScanner.Search(data.Segments, tables, 5, new ScanOptions { Threads = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => SegmentScanner.Search(data.Segments, tables, 5, new ScanOptions { Path = (ScanPath)99 }));
        Assert.Throws<ArgumentException>(() => new LookupTables(16, 1, [.. new float[15], float.NaN]));
        Assert.Throws<ArgumentException>(() => new LookupTables(16, 1, new float[15]));
        Assert.Throws<ArgumentException>(() => new LookupTables(16, 1, [.. new float[15], 1e31f]));
    }
}
