using Dpq.Copies;
using Dpq.Formats;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Quantization;
using Dpq.Query;
using Dpq.Scan;
using Dpq.Tests.Copies;
using Dpq.Tests.Quantization;

namespace Dpq.Tests.Query;

/// <summary>
/// An index of the copy-code training images, each with a random DPQ feature; queries are re-encoded
/// files of 20 of them that the copy codes were fitted on (only their codes are faithful: with this few
/// training images, held-out ones are reconstructed worse than their neighbours).
/// </summary>
public sealed class AnswerRankingTests
{
    private const int D = 16, M = 4, K = 256, Copies = 20, Levels = 4;
    private static readonly Codebooks Books = TestCodebooks.Random(M, K, D, seed: 4);
    private static global::Dpq.Data.ImageSet Stored => TestCopies.TrainingImages;
    private static readonly float[] Features = RandomFeatures(TestCopies.TrainImages);
    private static CopyCodec Codec => TestCopies.Codec.Codec;
    /// <summary>The c-th queried image: every tenth, never one of the calibration images held out of the fit.</summary>
    private static int Copy(int c) => 10 * c;

    private static float[] RandomFeatures(int count)
    {
        var rng = new Random(8);
        return [.. Enumerable.Range(0, count * D).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
    }

    private static string Name(int i) => $"images/{i:D5}.png";

    private static float[] Fingerprint(int image, CopyVariant variant)
    {
        var pixels = new float[784];
        new ImagePreprocessor(28, 28).Decode(CopyVariants.Make(variant, Stored.Pixels.AsSpan(image * 784, 784), 28, 28), pixels);
        var print = new float[CopyFingerprint.Dimension];
        CopyFingerprint.Compute(pixels, print);
        return print;
    }

    /// <summary>Two shards; with <paramref name="withoutCopyCodes"/> the items it names are stored without copy codes.</summary>
    private static IndexSnapshot Index(Func<int, bool>? withoutCopyCodes = null, Func<IReadOnlyList<ShardSegment>, ItemExclusions>? hidden = null, bool oneSegment = false)
    {
        var images = Enumerable.Range(0, Stored.Count).Select(i =>
        {
            byte[]? copyCode = null;
            if (withoutCopyCodes?.Invoke(i) != true)
            {
                copyCode = new byte[CopyCodec.CodeBytes];
                Codec.Encode(Fingerprint(i, CopyVariant.Exact), copyCode);
            }
            return new IndexedImage(ImageId.FromBlobName(Name(i)), Name(i), Stored.ClassNameOf(i), Books.EncodeHard(Features.AsSpan(i * D, D)), null, copyCode);
        }).ToList();
        var format = new CodeFormat(K, M);
        ShardSegment[] segments = [.. images.GroupBy(i => !oneSegment && withoutCopyCodes?.Invoke(int.Parse(i.BlobName[7..12])) == true).OrderBy(g => g.Key)
            .Select(g => IndexSegments.FromImages(format, "m", g))];
        return new IndexSnapshot("m", [.. segments], hidden?.Invoke(segments) ?? ItemExclusions.Create(segments, []), DateTimeOffset.UtcNow);
    }

    private static RankedAnswer Answer(IndexSnapshot index, int image, CopyVariant variant, int k = 10, ScanOptions? scan = null) =>
        AnswerRanking.Rank(index, Books, Codec, Features.AsSpan(image * D, D), Fingerprint(image, variant), Levels, k, scan ?? new ScanOptions());

    private static string NameOf(IndexSnapshot index, RankedHit hit) => index.Segments[hit.Segment].Ids[hit.Item];

    [Theory]
    [InlineData(CopyVariant.Exact)]
    [InlineData(CopyVariant.Jpeg75)]
    [InlineData(CopyVariant.Shift1)]
    public void ACopyLeadsItsAnswerAsANearDuplicateAndScoresStayMonotone(CopyVariant variant)
    {
        var index = Index();
        for (int c = 0; c < Copies; c++)
        {
            var answer = Answer(index, Copy(c), variant);
            Assert.Equal(10, answer.Hits.Length);
            Assert.Equal(Name(Copy(c)), NameOf(index, answer.Hits[0]));
            Assert.True(answer.Hits[0].IsNearDuplicate);
            for (int i = 1; i < answer.Hits.Length; i++) Assert.True(answer.Hits[i - 1].Score >= answer.Hits[i].Score);
            Assert.All(answer.Hits, h => Assert.Equal(h.IsNearDuplicate, h.Score >= answer.NearDuplicateFloor));
            Assert.Equal(answer.Hits.Length, answer.Hits.Select(h => (h.Segment, h.Item)).Distinct().Count());
        }
    }

    [Fact]
    public void AfterTheNearDuplicatesComeTheClassNeighboursInScanOrder()
    {
        var index = Index();
        int image = Copy(3);
        var answer = Answer(index, image, CopyVariant.Exact);
        var duplicates = answer.Hits.Where(h => h.IsNearDuplicate).Select(h => (h.Segment, h.Item)).ToHashSet();
        var tables = new LookupTables(K, Levels, Books.LookupTables(Features.AsSpan(image * D, D), Levels));
        var scan = index.Search(tables, 10 + duplicates.Count, new ScanOptions()).Where(h => !duplicates.Contains((h.Segment, h.Item)));
        Assert.Equal(scan.Take(10 - duplicates.Count).Select(h => (h.Segment, h.Item, h.Score)),
            answer.Hits.Where(h => !h.IsNearDuplicate).Select(h => (h.Segment, h.Item, h.Score)));
    }

    [Fact]
    public void WithoutAFingerprintTheAnswerIsTheClassScan()
    {
        var index = Index();
        var feature = Features.AsSpan(7 * D, D);
        var answer = AnswerRanking.Rank(index, Books, Codec, feature, [], Levels, 10, new ScanOptions());
        var scan = index.Search(new LookupTables(K, Levels, Books.LookupTables(feature, Levels)), 10, new ScanOptions());
        Assert.Equal(scan.Select(h => (h.Segment, h.Item, h.Score)), answer.Hits.Select(h => (h.Segment, h.Item, h.Score)));
        Assert.DoesNotContain(answer.Hits, h => h.IsNearDuplicate);
    }

    [Fact]
    public void AnItemStoredWithoutACopyCodeIsNeverANearDuplicate()
    {
        int image = Copy(5);
        var index = Index(withoutCopyCodes: i => i == image);
        Assert.False(index.Segments[1].HasCopyCodes);
        var answer = Answer(index, image, CopyVariant.Exact, k: 50);
        Assert.DoesNotContain(answer.Hits, h => h.IsNearDuplicate && NameOf(index, h) == Name(image));
    }

    [Fact]
    public void AnItemWithoutACopyCodeInASegmentWithThemIsLeftOutOfTheCopyScan()
    {
        int image = Copy(6);
        var index = Index(withoutCopyCodes: i => i == image, oneSegment: true);
        Assert.Single(index.Segments);
        Assert.True(index.Segments[0].HasCopyCodes);
        var answer = Answer(index, image, CopyVariant.Exact, k: 50);
        Assert.DoesNotContain(answer.Hits, h => h.IsNearDuplicate && NameOf(index, h) == Name(image));
        Assert.DoesNotContain(index.SearchCopies(Codec.ScanTables(Fingerprint(image, CopyVariant.Exact)), Stored.Count, new ScanOptions()),
            h => NameOf(index, new RankedHit(h.Segment, h.Item, h.Score, null)) == Name(image));
    }

    [Fact]
    public void ALabelFilterAndHiddenItemsApplyToNearDuplicates()
    {
        int image = Copy(2);
        var index = Index();
        var otherLabels = LabelFilter.Named(Stored.ClassNames.Where(l => l != Stored.ClassNameOf(image)));
        var filtered = Answer(index, image, CopyVariant.Exact, scan: new ScanOptions { Labels = otherLabels });
        Assert.DoesNotContain(filtered.Hits, h => NameOf(index, h) == Name(image));

        var hidden = Index(hidden: segments => ItemExclusions.Create(segments,
            Enumerable.Range(0, segments[0].Count).Where(i => segments[0].Ids[i] == Name(image)).Select(i => (0, i))));
        Assert.DoesNotContain(Answer(hidden, image, CopyVariant.Exact).Hits, h => NameOf(hidden, h) == Name(image));
    }

    [Fact]
    public void ARestrictionAppliesToNearDuplicatesAndClassNeighboursAlike()
    {
        int image = Copy(4);
        var index = Index(withoutCopyCodes: i => i % 7 == 3); // two segments, one without copy codes: the copy scan's own exclusions join the restriction
        var allowed = Enumerable.Range(0, Stored.Count).Where(i => i % 3 == 0 || i == image).Select(i => ImageId.FromBlobName(Name(i))).ToHashSet();
        var restricted = index.RestrictedTo(allowed);
        var answer = Answer(restricted, image, CopyVariant.Jpeg75, k: 30);
        Assert.Equal(30, answer.Hits.Length);
        Assert.All(answer.Hits, h => Assert.Contains(ImageId.FromBlobName(NameOf(restricted, h)), allowed));
        Assert.Equal(Name(image), NameOf(restricted, answer.Hits[0]));
        Assert.NotNull(answer.Hits[0].CopyDistance);

        var without = index.RestrictedTo(allowed.Where(id => id != ImageId.FromBlobName(Name(image))).ToHashSet());
        Assert.DoesNotContain(Answer(without, image, CopyVariant.Jpeg75, k: 30).Hits, h => NameOf(without, h) == Name(image));
        Assert.Equal(index.Items, restricted.Items);
    }

    [Fact]
    public void TheCeilingBoundsEveryClassScore()
    {
        var rng = new Random(2);
        for (int q = 0; q < 20; q++)
        {
            var feature = TestCodebooks.RandomVector(rng, D);
            for (int levels = 1; levels <= M; levels++)
            {
                var tables = Books.LookupTables(feature, levels);
                float best = 0;
                for (int l = 0; l < levels; l++) best += tables.AsSpan(l * K, K).ToArray().Max();
                Assert.True(best <= AnswerRanking.Ceiling(Books, feature, levels));
            }
        }
    }
}
