namespace Dpq.Formats;

/// <summary>How a segment lays its codes out for the scanner. The value is stored in the segment file.</summary>
public enum CodeLayout : ushort
{
    /// <summary>K = 256: item after item, <see cref="CodeFormat.BytesPerCode"/> bytes each (the packed code).</summary>
    RowMajor = 1,

    /// <summary>
    /// K = 16: blocks of <see cref="BlockedCodes.BlockItems"/> items. Within a block, byte p of every item's
    /// packed code (levels 2p and 2p+1) is stored together: 64 bytes per byte-of-code, so one 32- or 64-byte
    /// load feeds a shuffle per level (FAISS pq4 fast scan, with our own nibble order). The last block is
    /// padded with zero codes.
    /// </summary>
    Blocked64 = 2,
}

/// <summary>Index arithmetic of <see cref="CodeLayout.Blocked64"/>.</summary>
public static class BlockedCodes
{
    public const int BlockItems = 64;

    public static int BlockCount(int items) => (items + BlockItems - 1) / BlockItems;

    /// <summary>Offset of byte <paramref name="codeByte"/> of item <paramref name="item"/>'s packed code.</summary>
    public static long Offset(int item, int codeByte, int bytesPerCode) =>
        (long)(item / BlockItems) * BlockItems * bytesPerCode + codeByte * BlockItems + item % BlockItems;

    public static long Length(int items, int bytesPerCode) => (long)BlockCount(items) * BlockItems * bytesPerCode;

    public static CodeLayout For(CodeFormat format) => format.Codewords == 16 ? CodeLayout.Blocked64 : CodeLayout.RowMajor;

    public static long LayoutLength(CodeFormat format, int items) =>
        For(format) == CodeLayout.Blocked64 ? Length(items, format.BytesPerCode) : (long)items * format.BytesPerCode;
}
