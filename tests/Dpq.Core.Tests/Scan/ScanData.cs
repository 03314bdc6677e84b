using Dpq.Formats;
using Dpq.Scan;

namespace Dpq.Tests.Scan;

/// <summary>
/// Random segments that remember each item's level indices and class by id, and a naive reference scan.
/// Segment s draws its classes from <see cref="Classes"/>[s..s+3], so the same class has another label byte in each segment.
/// </summary>
internal sealed class ScanData
{
    public static readonly string[] Classes = ["bag", "coat", "hat", "shoe", "sock", "tie", "vest"];

    private readonly Dictionary<string, (int[] Levels, string Label)> _items = new(StringComparer.Ordinal);

    public List<ShardSegment> Segments { get; } = [];

    public static ScanData Random(CodeFormat format, int seed, params int[] counts)
    {
        var data = new ScanData();
        var rng = new Random(seed);
        var code = new byte[format.BytesPerCode];
        for (int s = 0; s < counts.Length; s++)
        {
            var builder = new ShardSegmentBuilder(format, "model");
            for (int i = 0; i < counts[s]; i++)
            {
                var levels = Enumerable.Range(0, format.Levels).Select(_ => rng.Next(format.Codewords)).ToArray();
                string id = $"s{s}/{rng.Next():x8}/{i}";
                string label = Classes[(s + rng.Next(4)) % Classes.Length];
                format.Pack(levels, code);
                builder.Add(id, code, label);
                data._items[id] = (levels, label);
            }
            data.Segments.Add(builder.Build());
        }
        return data;
    }

    public static LookupTables RandomTables(int k, int m, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        return new LookupTables(k, m, Enumerable.Range(0, k * m).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray());
    }

    /// <summary>
    /// Scores every item from the level indices it was built with (not from the segment's code bytes),
    /// sums in float from level 0, sorts everything by (score desc, segment, item) and keeps k.
    /// </summary>
    public ScanHit[] Reference(LookupTables tables, int k, LabelFilter? labels = null, ItemExclusions? exclude = null)
    {
        var all = new List<ScanHit>();
        for (int s = 0; s < Segments.Count; s++)
        {
            for (int i = 0; i < Segments[s].Count; i++)
            {
                var (levels, label) = _items[Segments[s].Ids[i]];
                if (labels is not null && !(labels.Names is { } names ? names.Contains(label) : labels.Allows(Segments[s].Labels[i]))) continue;
                if (exclude is not null && exclude.Contains(s, i)) continue;
                float score = 0f;
                for (int l = 0; l < tables.Levels; l++) score += tables.Values[l * tables.Codewords + levels[l]];
                all.Add(new ScanHit(s, i, score));
            }
        }
        return all.OrderByDescending(h => h.Score).ThenBy(h => h.Segment).ThenBy(h => h.Item).Take(k).ToArray();
    }

    public static readonly ScanPath[] AllPaths =
        [ScanPath.Exact, ScanPath.ExactVector256, ScanPath.QuantizedScalar, ScanPath.QuantizedVector256, ScanPath.QuantizedVector512, ScanPath.Auto];

    /// <summary>Every path on one thread, then every path on two threads with 64-item chunks, all equal to the reference.</summary>
    public void AssertAllPathsMatch(LookupTables tables, int k, LabelFilter? labels = null, ItemExclusions? exclude = null)
    {
        var expected = Reference(tables, k, labels, exclude);
        foreach (var path in AllPaths)
        {
            foreach (var (threads, chunk) in new[] { (1, SegmentScanner.DefaultChunkItems), (2, 64) })
            {
                var options = new ScanOptions { Path = path, Threads = threads, Labels = labels, Exclude = exclude, ChunkItems = chunk };
                var actual = SegmentScanner.Search(Segments, tables, k, options);
                if (!expected.SequenceEqual(actual))
                    Assert.Fail($"{path}, {threads} thread(s): expected [{string.Join(", ", expected.Take(5))}...], got [{string.Join(", ", actual.Take(5))}...]");
            }
        }
    }
}
