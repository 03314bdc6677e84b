using Dpq.Formats;
using Dpq.Quantization;
using Dpq.Scan;

namespace Dpq.Copies;

/// <summary>
/// Copy codes: a <see cref="CopyFingerprint"/> as <see cref="Levels"/> residual levels of 256
/// codewords plus one byte for the cross terms of its first <see cref="ScannedLevels"/> levels'
/// reconstruction, laid out [l1 l2 l3 cross l4 l5 l6 l7 l8]. With r3 = c1 + c2 + c3,
/// ||r3||² = sum ||c_l||² + 2 sum_{l&lt;l'} &lt;c_l, c_l'&gt;: the first part goes into the level tables
/// exactly (2&lt;q, c&gt; - ||c||²) and only the cross terms are quantized, in the cross byte, whose table
/// is their negation. So the scan reads the first four bytes as a 32-bit code of four levels, with the
/// scanner's fastest kernels, and an item scores 2&lt;q, r3&gt; - ||r3||² = ||q||² - ||q - r3||².
/// The best <see cref="RerankCandidates"/> are then ranked by the squared distance to all eight levels,
/// and <see cref="NearDuplicates"/> picks the matches that lead an answer.
/// </summary>
public sealed class CopyCodec
{
    public const int Levels = 8;
    public const int ScannedLevels = 3;
    public const int Codewords = 256;
    public const int CodeBytes = Levels + 1;

    /// <summary>Position of the cross byte (the quantized cross terms): right after the scanned levels.</summary>
    public const int CrossByte = ScannedLevels;

    /// <summary>Bytes the scan reads: the scanned levels and the cross byte.</summary>
    public const int ScanBytes = ScannedLevels + 1;

    /// <summary>Cross byte of an item without a fingerprint (indexed before its model had one): the scan leaves it out, never a copy.</summary>
    public const byte Missing = 255;

    /// <summary>Quantized cross terms: byte values 0..254.</summary>
    public const int CrossValues = 255;

    /// <summary>The scan's view of copy codes: their first <see cref="ScanBytes"/> bytes as codes of K = 256, one after another.</summary>
    public static CodeFormat Format { get; } = new(Codewords, ScanBytes);

    private readonly float[] _crossTerms;

    /// <param name="codebooks">Levels x 256 x <see cref="CopyFingerprint.Dimension"/>.</param>
    /// <param name="crossTerms"><see cref="CrossValues"/> ascending values of 2 sum_{l&lt;l'} &lt;c_l, c_l'&gt; over the scanned levels, that the cross byte indexes.</param>
    /// <param name="copyDistance">Squared distance (query fingerprint to an item's eight-level reconstruction) beyond which nothing is a near-duplicate.</param>
    /// <param name="typicalCopyDistance">The median squared distance of a re-encoded copy to its own code.</param>
    /// <param name="duplicateRatio">Matches up to this many times the best one's distance (or the typical copy distance, if larger) lead the answer with it.</param>
    public CopyCodec(Codebooks codebooks, float[] crossTerms, float copyDistance, float typicalCopyDistance, float duplicateRatio = DefaultDuplicateRatio, int rerankCandidates = DefaultRerankCandidates)
    {
        ArgumentNullException.ThrowIfNull(codebooks);
        ArgumentNullException.ThrowIfNull(crossTerms);
        if (codebooks.M != Levels || codebooks.K != Codewords || codebooks.D != CopyFingerprint.Dimension)
            throw new InvalidDataException($"copy codebooks are {codebooks.M}x{codebooks.K}x{codebooks.D}; expected {Levels}x{Codewords}x{CopyFingerprint.Dimension}");
        if (crossTerms.Length != CrossValues || crossTerms.Any(v => !float.IsFinite(v)) || crossTerms.Zip(crossTerms.Skip(1)).Any(p => p.First > p.Second))
            throw new InvalidDataException($"copy cross terms must be {CrossValues} finite, ascending values");
        if (!(copyDistance > 0 && float.IsFinite(copyDistance)))
            throw new InvalidDataException($"copy distance must be positive and finite, not {copyDistance}");
        if (!(typicalCopyDistance >= 0 && typicalCopyDistance <= copyDistance))
            throw new InvalidDataException($"typical copy distance must be from 0 to the copy distance ({copyDistance}), not {typicalCopyDistance}");
        if (!(duplicateRatio >= 1 && float.IsFinite(duplicateRatio)))
            throw new InvalidDataException($"duplicate ratio must be at least 1, not {duplicateRatio}");
        ArgumentOutOfRangeException.ThrowIfLessThan(rerankCandidates, 1);
        Codebooks = codebooks;
        _crossTerms = (float[])crossTerms.Clone();
        _wordNorms = new float[ScannedLevels * Codewords];
        for (int l = 0; l < ScannedLevels; l++)
            for (int k = 0; k < Codewords; k++)
            {
                var word = codebooks.Codeword(l, k);
                _wordNorms[l * Codewords + k] = VectorMath.Dot(word, word);
            }
        CopyDistance = copyDistance;
        TypicalCopyDistance = typicalCopyDistance;
        DuplicateRatio = duplicateRatio;
        RerankCandidates = rerankCandidates;
    }

    public Codebooks Codebooks { get; }
    public IReadOnlyList<float> CrossTerms => _crossTerms;
    public const float DefaultDuplicateRatio = 1.0f;

    /// <summary>Scan candidates re-ranked by the full code: a copy's three-level distance puts it among the best few, so 100 leave room (docs/model.md).</summary>
    public const int DefaultRerankCandidates = 100;

    public float CopyDistance { get; }
    public float TypicalCopyDistance { get; }
    public float DuplicateRatio { get; }
    public int RerankCandidates { get; }

    /// <summary>
    /// How many of the re-ranked matches (squared distances, ascending) lead the answer: none when the
    /// best is beyond <see cref="CopyDistance"/>; else those within <see cref="DuplicateRatio"/> times
    /// the larger of the best distance and <see cref="TypicalCopyDistance"/> (so that every stored copy
    /// of an image comes first, not only the closest).
    /// </summary>
    public int NearDuplicates(ReadOnlySpan<float> ascendingDistances)
    {
        if (ascendingDistances.IsEmpty || !(ascendingDistances[0] <= CopyDistance)) return 0;
        float limit = Math.Min(CopyDistance, DuplicateRatio * Math.Max(ascendingDistances[0], TypicalCopyDistance));
        int count = 0;
        while (count < ascendingDistances.Length && ascendingDistances[count] <= limit) count++;
        return count;
    }

    /// <summary>Greedy residual assignment of all levels, then the cross byte of the scanned prefix.</summary>
    public void Encode(ReadOnlySpan<float> fingerprint, Span<byte> code)
    {
        if (code.Length != CodeBytes) throw new ArgumentException($"a copy code has {CodeBytes} bytes", nameof(code));
        Span<byte> levels = stackalloc byte[Levels];
        Codebooks.EncodeHard(fingerprint, levels);
        levels[..ScannedLevels].CopyTo(code);
        code[CrossByte] = (byte)NearestCrossTerm(CrossTerm(levels[..ScannedLevels]));
        levels[ScannedLevels..].CopyTo(code[(CrossByte + 1)..]);
    }

    /// <summary>The code of an item that has no fingerprint.</summary>
    public static void WriteMissing(Span<byte> code)
    {
        code[..CodeBytes].Clear();
        code[CrossByte] = Missing;
    }

    public static bool IsMissing(ReadOnlySpan<byte> code) => code[CrossByte] == Missing;

    /// <summary>The eight-level reconstruction of a code.</summary>
    public void Decode(ReadOnlySpan<byte> code, Span<float> fingerprint)
    {
        if (code.Length < CodeBytes) throw new ArgumentException($"a copy code has {CodeBytes} bytes", nameof(code));
        Span<byte> levels = stackalloc byte[Levels];
        code[..ScannedLevels].CopyTo(levels);
        code[(CrossByte + 1)..CodeBytes].CopyTo(levels[ScannedLevels..]);
        Codebooks.Decode(levels, fingerprint);
    }

    /// <summary>Squared distance from a query fingerprint to a code's eight-level reconstruction; +inf for <see cref="Missing"/>.</summary>
    public float SquaredDistance(ReadOnlySpan<float> fingerprint, ReadOnlySpan<byte> code)
    {
        if (IsMissing(code)) return float.PositiveInfinity;
        Span<float> reconstruction = stackalloc float[CopyFingerprint.Dimension];
        Decode(code, reconstruction);
        return VectorMath.SquaredDistance(fingerprint, reconstruction);
    }

    /// <summary>The scan's tables for a query fingerprint: 2&lt;q, c&gt; - ||c||² per scanned level, then the negated cross terms
    /// (the entry of <see cref="Missing"/> is a plain value: those items are excluded from the scan, not scored away).</summary>
    public LookupTables ScanTables(ReadOnlySpan<float> fingerprint)
    {
        var values = new float[(ScannedLevels + 1) * Codewords];
        Codebooks.LookupTables(fingerprint, ScannedLevels, values.AsSpan(0, ScannedLevels * Codewords));
        for (int i = 0; i < ScannedLevels * Codewords; i++) values[i] = 2 * values[i] - _wordNorms[i];
        var cross = values.AsSpan(ScannedLevels * Codewords);
        for (int b = 0; b < CrossValues; b++) cross[b] = -_crossTerms[b];
        cross[Missing] = cross[Missing - 1];
        return new LookupTables(Codewords, ScannedLevels + 1, values);
    }

    /// <summary>2 sum_{l&lt;l'} &lt;c_l, c_l'&gt; of the scanned levels of a code: ||r3||² less the codewords' own squared norms.</summary>
    public float CrossTerm(ReadOnlySpan<byte> scannedLevels) => CrossTerm(Codebooks, scannedLevels);

    /// <summary><see cref="CrossTerm(ReadOnlySpan{byte})"/> for copy codebooks not yet wrapped in a codec (training).</summary>
    public static float CrossTerm(Codebooks codebooks, ReadOnlySpan<byte> scannedLevels)
    {
        float sum = 0;
        for (int a = 0; a < ScannedLevels; a++)
            for (int b = a + 1; b < ScannedLevels; b++)
                sum += 2 * VectorMath.Dot(codebooks.Codeword(a, scannedLevels[a]), codebooks.Codeword(b, scannedLevels[b]));
        return sum;
    }

    private readonly float[] _wordNorms;

    private int NearestCrossTerm(float value)
    {
        int i = Array.BinarySearch(_crossTerms, value);
        if (i >= 0) return i;
        i = ~i;
        if (i == 0) return 0;
        if (i == _crossTerms.Length) return _crossTerms.Length - 1;
        return value - _crossTerms[i - 1] <= _crossTerms[i] - value ? i - 1 : i;
    }
}
