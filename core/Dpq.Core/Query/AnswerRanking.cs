using System.Runtime.CompilerServices;
using Dpq.Copies;
using Dpq.Quantization;
using Dpq.Scan;

namespace Dpq.Query;

/// <summary>One result of <see cref="AnswerRanking"/>: an item, its score, and its copy distance when it is a near-duplicate.</summary>
public readonly record struct RankedHit(int Segment, int Item, float Score, float? CopyDistance)
{
    public bool IsNearDuplicate => CopyDistance is not null;
}

/// <summary>An answer's hits, best first, and the score above which a hit is a near-duplicate.</summary>
public sealed record RankedAnswer(RankedHit[] Hits, float NearDuplicateFloor, double CopyScanMs, double ScanMs);

/// <summary>
/// The ranking of one answer. When the query has a copy fingerprint and the index has copy codes, the
/// copy scan finds the items that look most like the query pixel by pixel (<see cref="CopyCodec"/>:
/// scan, re-rank, <see cref="CopyCodec.NearDuplicates"/>), and they lead the answer; the class
/// neighbours of the DPQ scan follow, without repeating them. Scores stay monotone: a class neighbour
/// scores &lt;q, r_m&gt;, which never exceeds <see cref="Ceiling"/>; a near-duplicate scores
/// ceiling + 1 - d / CopyDistance, which is at least the ceiling.
/// </summary>
public static class AnswerRanking
{
    private static readonly ConditionalWeakTable<Codebooks, float[]> LevelBounds = new();

    public static RankedAnswer Rank(IndexSnapshot snapshot, Codebooks codebooks, CopyCodec? copies, ReadOnlySpan<float> feature, ReadOnlySpan<float> fingerprint,
        int levels, int k, ScanOptions scan, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        float ceiling = Ceiling(codebooks, feature, levels);
        var duplicates = copies is not null && !fingerprint.IsEmpty
            ? FindNearDuplicates(snapshot, copies, fingerprint, k, scan, cancellationToken)
            : [];
        double copyMs = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        var tables = new LookupTables(codebooks.K, levels, codebooks.LookupTables(feature, levels));
        var similar = snapshot.Search(tables, k + duplicates.Count, scan, cancellationToken);
        var hits = new List<RankedHit>(k);
        foreach (var (segment, item, distance) in duplicates)
            hits.Add(new RankedHit(segment, item, NearDuplicateScore(ceiling, distance, copies!.CopyDistance), distance));
        var taken = duplicates.Select(d => (d.Segment, d.Item)).ToHashSet();
        foreach (var hit in similar)
        {
            if (hits.Count == k) break;
            if (!taken.Contains((hit.Segment, hit.Item))) hits.Add(new RankedHit(hit.Segment, hit.Item, hit.Score, null));
        }
        return new RankedAnswer([.. hits], ceiling, copyMs, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>A near-duplicate's score: ceiling + 1 - d / copyDistance, never below the ceiling (d is at most copyDistance, but float rounding).</summary>
    public static float NearDuplicateScore(float ceiling, float distance, float copyDistance) =>
        MathF.Max(ceiling, (float)(ceiling + 1.0 - distance / copyDistance));

    /// <summary>
    /// An upper bound of &lt;q, r_m&gt; over every code: ||q||_inf times the sum over the first m levels of
    /// the largest codeword L1 norm (Hölder), nudged up so float rounding of a scan's sum stays below it.
    /// </summary>
    public static float Ceiling(Codebooks codebooks, ReadOnlySpan<float> feature, int levels)
    {
        var bounds = LevelBounds.GetValue(codebooks, LargestL1Norms);
        float maxAbs = 0;
        foreach (var v in feature) maxAbs = Math.Max(maxAbs, Math.Abs(v));
        double sum = 0;
        for (int l = 0; l < levels; l++) sum += bounds[l];
        double bound = maxAbs * sum;
        return (float)(bound * (1 + 1e-5) + 1e-6);
    }

    /// <summary>The copy scan: the best candidates by the scanned prefix, re-ranked by the full copy code; the leading near-duplicates (at most k), closest first.</summary>
    public static List<(int Segment, int Item, float Distance)> FindNearDuplicates(IndexSnapshot snapshot, CopyCodec copies, ReadOnlySpan<float> fingerprint,
        int k, ScanOptions scan, CancellationToken cancellationToken = default)
    {
        var candidates = snapshot.SearchCopies(copies.ScanTables(fingerprint), Math.Max(copies.RerankCandidates, k), scan, cancellationToken);
        var ranked = new List<(int Segment, int Item, float Distance)>(candidates.Length);
        foreach (var c in candidates)
        {
            // The scan left out items without a copy code; the full code is in the segment itself.
            float d = copies.SquaredDistance(fingerprint, snapshot.Segments[c.Segment].CopyCodeOf(c.Item));
            if (float.IsFinite(d)) ranked.Add((c.Segment, c.Item, d));
        }
        ranked.Sort((a, b) => a.Distance != b.Distance ? a.Distance.CompareTo(b.Distance)
            : a.Segment != b.Segment ? a.Segment.CompareTo(b.Segment) : a.Item.CompareTo(b.Item));
        var distances = ranked.Select(r => r.Distance).ToArray();
        return ranked.Take(Math.Min(k, copies.NearDuplicates(distances))).ToList();
    }

    private static float[] LargestL1Norms(Codebooks codebooks)
    {
        var bounds = new float[codebooks.M];
        for (int l = 0; l < codebooks.M; l++)
            for (int c = 0; c < codebooks.K; c++)
            {
                float norm = 0;
                foreach (var v in codebooks.Codeword(l, c)) norm += Math.Abs(v);
                bounds[l] = Math.Max(bounds[l], norm);
            }
        return bounds;
    }
}
