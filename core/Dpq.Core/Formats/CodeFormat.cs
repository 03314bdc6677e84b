namespace Dpq.Formats;

/// <summary>
/// How one item's code is packed: <see cref="Levels"/> (M) level indices, each in [0, <see cref="Codewords"/>).
/// K = 256 stores one byte per level; K = 16 stores two levels per byte, level 2p in the low nibble of
/// byte p and level 2p+1 in the high nibble (a trailing unused nibble is zero). Levels come first to last,
/// so the first m levels of a code are the first <see cref="BytesForPrefix"/> bytes: a valid shorter code.
/// </summary>
public readonly record struct CodeFormat
{
    /// <summary>The scanner accumulates up to 64 levels of 8-bit table entries in 16-bit lanes (64 × 255 &lt; 2^15).</summary>
    public const int MaxLevels = 64;

    public CodeFormat(int codewords, int levels)
    {
        if (codewords is not (16 or 256))
            throw new ArgumentOutOfRangeException(nameof(codewords), codewords, "codewords per level (K) must be 16 or 256");
        if (levels is < 1 or > MaxLevels)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, $"levels (M) must be from 1 to {MaxLevels}");
        Codewords = codewords;
        Levels = levels;
    }

    /// <summary>K: codewords per level, 16 or 256.</summary>
    public int Codewords { get; }

    /// <summary>M: levels per code.</summary>
    public int Levels { get; }

    public int BitsPerLevel => Codewords == 256 ? 8 : 4;

    public int BytesPerCode => BytesForPrefix(Levels);

    public int CodeBits => BitsPerLevel * Levels;

    /// <summary>Bytes that hold the first <paramref name="levels"/> levels of a code.</summary>
    public int BytesForPrefix(int levels)
    {
        CheckPrefix(levels);
        return Codewords == 256 ? levels : (levels + 1) / 2;
    }

    /// <summary>Throws unless 0 &lt;= <paramref name="levels"/> &lt;= M.</summary>
    public void CheckPrefix(int levels)
    {
        if ((uint)levels > (uint)Levels)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, $"a prefix of a {Levels}-level code has 0 to {Levels} levels");
    }

    /// <summary>Level <paramref name="level"/> of a packed code.</summary>
    public int GetLevel(ReadOnlySpan<byte> code, int level)
    {
        if ((uint)level >= (uint)Levels)
            throw new ArgumentOutOfRangeException(nameof(level), level, $"level must be below {Levels}");
        if (code.Length < BytesForPrefix(level + 1))
            throw new ArgumentException($"code has {code.Length} bytes, too few for level {level}", nameof(code));
        return Codewords == 256 ? code[level] : (code[level >> 1] >> ((level & 1) * 4)) & 0xF;
    }

    /// <summary>Packs M level indices into <paramref name="code"/> (<see cref="BytesPerCode"/> bytes).</summary>
    public void Pack(ReadOnlySpan<int> levelIndices, Span<byte> code)
    {
        if (levelIndices.Length != Levels)
            throw new ArgumentException($"expected {Levels} level indices, got {levelIndices.Length}", nameof(levelIndices));
        if (code.Length != BytesPerCode)
            throw new ArgumentException($"expected a {BytesPerCode}-byte destination, got {code.Length}", nameof(code));
        code.Clear();
        for (int l = 0; l < Levels; l++)
        {
            int index = levelIndices[l];
            if ((uint)index >= (uint)Codewords)
                throw new ArgumentOutOfRangeException(nameof(levelIndices), index, $"level {l} index must be below {Codewords}");
            if (Codewords == 256) code[l] = (byte)index;
            else code[l >> 1] |= (byte)(index << ((l & 1) * 4));
        }
    }

    /// <summary>Throws unless <paramref name="code"/> is a well-formed packed code of this format.</summary>
    public void CheckPacked(ReadOnlySpan<byte> code, string paramName)
    {
        if (code.Length != BytesPerCode)
            throw new ArgumentException($"a packed code has {BytesPerCode} bytes, got {code.Length}", paramName);
        if (Codewords == 16 && (Levels & 1) == 1 && code[^1] >> 4 != 0)
            throw new ArgumentException($"the unused high nibble of a {Levels}-level 4-bit code must be zero", paramName);
    }

    public override string ToString() => $"K={Codewords}, M={Levels} ({CodeBits} bits)";
}
