using System.Text;
using System.Text.Unicode;

namespace Dpq.Formats;

/// <summary>
/// Item ids held as one front-coded UTF-8 blob instead of one string per item. Ids are sorted by their
/// UTF-8 bytes; every entry stores (bytes shared with the previous id, suffix length, suffix) as two
/// LEB128 varints and the suffix. Each block of <see cref="BlockSize"/> ids restarts with a full id
/// (shared = 0) and <see cref="BlockStarts"/> holds where each block begins, so id i decodes in at most
/// 16 steps. "images/000123.png" after "images/000122.png" costs 7 bytes instead of a 17-character string.
/// </summary>
public sealed class FrontCodedIds
{
    public const int BlockSize = 16;

    /// <summary>Longest id in UTF-8 bytes; bounds the decode buffer and keeps varints at two bytes.</summary>
    public const int MaxIdBytes = 4096;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly int[] _blockStarts;
    private readonly byte[] _blob;

    private FrontCodedIds(int count, int[] blockStarts, byte[] blob)
    {
        Count = count;
        _blockStarts = blockStarts;
        _blob = blob;
    }

    public int Count { get; }

    internal ReadOnlySpan<int> BlockStarts => _blockStarts;

    internal ReadOnlySpan<byte> Blob => _blob;

    /// <summary>Managed bytes held (blob plus block starts), for memory accounting.</summary>
    public long HeldBytes => _blob.LongLength + _blockStarts.LongLength * sizeof(int);

    /// <summary>No ids.</summary>
    internal static FrontCodedIds Empty { get; } = new(0, [], []);

    /// <summary>Blocks of <paramref name="count"/> ids (computed in 64 bits, so a count read from a file cannot overflow it).</summary>
    public static int BlockCount(int count) => (int)(((long)count + BlockSize - 1) / BlockSize);

    public string this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(index), index, $"id index must be below {Count}");
            Span<byte> id = stackalloc byte[MaxIdBytes];
            int pos = _blockStarts[index / BlockSize], length = 0;
            for (int i = index - index % BlockSize; i <= index; i++)
                length = DecodeEntry(_blob, ref pos, id, length);
            return StrictUtf8.GetString(id[..length]);
        }
    }

    /// <summary>The index of <paramref name="id"/>, or -1 when it is not held: a binary search over block heads, then one block decoded.</summary>
    public int IndexOf(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        int byteCount;
        try
        {
            byteCount = StrictUtf8.GetByteCount(id);
        }
        catch (EncoderFallbackException)
        {
            return -1; // not valid Unicode: no held id can equal it
        }
        if (byteCount == 0 || byteCount > MaxIdBytes || Count == 0) return -1;
        Span<byte> target = stackalloc byte[byteCount];
        StrictUtf8.GetBytes(id, target);
        Span<byte> current = stackalloc byte[MaxIdBytes];

        // The last block whose first id is <= target (a block's first entry shares nothing, so it decodes alone).
        int lo = 0, hi = _blockStarts.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2, pos = _blockStarts[mid];
            int length = DecodeEntry(_blob, ref pos, current, 0);
            if (current[..length].SequenceCompareTo(target) <= 0) lo = mid; else hi = mid - 1;
        }
        int at = _blockStarts[lo], previousLength = 0;
        for (int i = lo * BlockSize; i < Math.Min(Count, (lo + 1) * BlockSize); i++)
        {
            previousLength = DecodeEntry(_blob, ref at, current, previousLength);
            int order = current[..previousLength].SequenceCompareTo(target);
            if (order == 0) return i;
            if (order > 0) return -1;
        }
        return -1;
    }

    /// <summary>Encodes the UTF-8 ids, which must already be sorted, unique and at most <see cref="MaxIdBytes"/> long.</summary>
    internal static FrontCodedIds Encode(IReadOnlyList<byte[]> sortedUtf8Ids)
    {
        var blockStarts = new int[BlockCount(sortedUtf8Ids.Count)];
        var blob = new MemoryStream();
        ReadOnlySpan<byte> previous = default;
        for (int i = 0; i < sortedUtf8Ids.Count; i++)
        {
            byte[] id = sortedUtf8Ids[i];
            int shared = 0;
            if (i % BlockSize == 0)
            {
                blockStarts[i / BlockSize] = checked((int)blob.Length);
            }
            else
            {
                shared = previous.CommonPrefixLength(id);
            }
            WriteVarint(blob, shared);
            WriteVarint(blob, id.Length - shared);
            blob.Write(id, shared, id.Length - shared);
            previous = id;
        }
        return new FrontCodedIds(sortedUtf8Ids.Count, blockStarts, blob.ToArray());
    }

    /// <summary>
    /// Adopts arrays read from a file after checking every entry: block starts where entries begin, shared
    /// prefixes within the previous id, ids valid UTF-8 and strictly increasing, and the blob fully used.
    /// </summary>
    internal static FrontCodedIds FromParts(int count, int[] blockStarts, byte[] blob)
    {
        if (blockStarts.Length != BlockCount(count))
            throw new InvalidDataException($"id table: {blockStarts.Length} block starts for {count} ids, expected {BlockCount(count)}");
        var previous = new byte[MaxIdBytes];
        var current = new byte[MaxIdBytes];
        int pos = 0, previousLength = 0;
        for (int i = 0; i < count; i++)
        {
            if (i % BlockSize == 0 && blockStarts[i / BlockSize] != pos)
                throw new InvalidDataException($"id table: block {i / BlockSize} starts at byte {blockStarts[i / BlockSize]}, but its first entry is at {pos}");
            previous.AsSpan(0, previousLength).CopyTo(current);
            int shared = PeekShared(blob, pos);
            if (i % BlockSize == 0 && shared != 0)
                throw new InvalidDataException($"id table: id {i} starts a block but shares {shared} bytes with the previous id");
            int length = DecodeEntry(blob, ref pos, current, previousLength);
            ReadOnlySpan<byte> id = current.AsSpan(0, length);
            if (length == 0 || !Utf8.IsValid(id))
                throw new InvalidDataException($"id table: id {i} is empty or not valid UTF-8");
            if (i > 0 && id.SequenceCompareTo(previous.AsSpan(0, previousLength)) <= 0)
                throw new InvalidDataException($"id table: id {i} is not greater than id {i - 1}; ids must be sorted and unique");
            (previous, current) = (current, previous);
            previousLength = length;
        }
        if (pos != blob.Length)
            throw new InvalidDataException($"id table: {blob.Length - pos} bytes left over after {count} ids");
        return new FrontCodedIds(count, blockStarts, blob);
    }

    /// <summary>Decodes the entry at <paramref name="pos"/> into <paramref name="id"/>, whose first bytes hold the previous id.</summary>
    private static int DecodeEntry(ReadOnlySpan<byte> blob, ref int pos, Span<byte> id, int previousLength)
    {
        int shared = ReadVarint(blob, ref pos);
        int suffix = ReadVarint(blob, ref pos);
        if (shared > previousLength || suffix > MaxIdBytes - shared || suffix > blob.Length - pos)
            throw new InvalidDataException($"id table: entry at byte {pos} shares {shared} bytes and adds {suffix}, which does not fit");
        blob.Slice(pos, suffix).CopyTo(id[shared..]);
        pos += suffix;
        return shared + suffix;
    }

    private static int PeekShared(ReadOnlySpan<byte> blob, int pos) => ReadVarint(blob, ref pos);

    private static void WriteVarint(Stream stream, int value)
    {
        for (; value >= 0x80; value >>= 7) stream.WriteByte((byte)(value | 0x80));
        stream.WriteByte((byte)value);
    }

    private static int ReadVarint(ReadOnlySpan<byte> blob, ref int pos)
    {
        int value = 0;
        for (int shift = 0; shift < 21; shift += 7)
        {
            if (pos >= blob.Length)
                throw new InvalidDataException("id table: the blob ends inside a length");
            byte b = blob[pos++];
            value |= (b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException($"id table: a length at byte {pos} is longer than three bytes");
    }
}
