using System.Text;

namespace Dpq.Formats;

/// <summary>
/// Collects (id, packed code, class name[, copy code]) items and removed ids in memory and builds a <see cref="ShardSegment"/>
/// or its file bytes. Items and removed ids are ordered by id (UTF-8 bytes) whatever the order they were added in, so the
/// same items always give the same file: writes keyed by content stay idempotent.
/// </summary>
public sealed class ShardSegmentBuilder
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly List<byte[]> _ids = [];
    private readonly List<string?> _labels = [];
    private readonly List<byte> _codes = [];
    private readonly List<byte>? _copyCodes;
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
    /// <summary>The added ids as strings, made by the first <see cref="Remove"/>, so a builder that removes nothing keeps no second copy.</summary>
    private HashSet<string>? _added;

    /// <param name="withCopyCodes">Whether the segment holds a copy code per item; items added without one get <see cref="Copies.CopyCodec.Missing"/>.</param>
    public ShardSegmentBuilder(CodeFormat format, string modelVersion, bool withCopyCodes = false)
    {
        if (format.Levels == 0)
            throw new ArgumentException("format is uninitialised; construct it with new CodeFormat(k, m)", nameof(format));
        ArgumentException.ThrowIfNullOrEmpty(modelVersion);
        if (Encoding.UTF8.GetByteCount(modelVersion) > ShardSegmentFormat.MaxModelVersionBytes)
            throw new ArgumentException($"model version is longer than {ShardSegmentFormat.MaxModelVersionBytes} UTF-8 bytes", nameof(modelVersion));
        Format = format;
        ModelVersion = modelVersion;
        _copyCodes = withCopyCodes ? [] : null;
    }

    public CodeFormat Format { get; }

    public string ModelVersion { get; }

    public int Count => _ids.Count;

    /// <summary>
    /// Adds one item. <paramref name="label"/> is its class name (null: none), which scans can filter on;
    /// <paramref name="copyCode"/> is empty or <see cref="Copies.CopyCodec.CodeBytes"/> bytes, and is kept only by a builder made with copy codes.
    /// </summary>
    public void Add(string id, ReadOnlySpan<byte> packedCode, string? label = null, ReadOnlySpan<byte> copyCode = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        if (_removed.Contains(id))
            throw new ArgumentException($"id '{id}' is removed in this segment; a segment either adds or removes an id", nameof(id));
        if (label is not null) LabelNameSection.Check(label);
        Format.CheckPacked(packedCode, nameof(packedCode));
        if (!copyCode.IsEmpty && copyCode.Length != Copies.CopyCodec.CodeBytes)
            throw new ArgumentException($"a copy code has {Copies.CopyCodec.CodeBytes} bytes, got {copyCode.Length}", nameof(copyCode));
        _ids.Add(Utf8Id(id));
        _added?.Add(id);
        _labels.Add(label);
        foreach (byte b in packedCode) _codes.Add(b);
        if (_copyCodes is null) return;
        if (copyCode.IsEmpty)
        {
            Span<byte> missing = stackalloc byte[Copies.CopyCodec.CodeBytes];
            Copies.CopyCodec.WriteMissing(missing);
            foreach (byte b in missing) _copyCodes.Add(b);
            return;
        }
        foreach (byte b in copyCode) _copyCodes.Add(b);
    }

    /// <summary>
    /// Records that the segment removes <paramref name="id"/>: read above older segments, it hides their items of it.
    /// Removing an id twice is the same as once. An id is never both added and removed (either order throws
    /// <see cref="ArgumentException"/>): the caller decides which came last.
    /// </summary>
    public void Remove(string id)
    {
        Utf8Id(id);
        _added ??= _ids.Select(StrictUtf8.GetString).ToHashSet(StringComparer.Ordinal);
        if (_added.Contains(id))
            throw new ArgumentException($"id '{id}' is added to this segment; a segment either adds or removes an id", nameof(id));
        _removed.Add(id);
    }

    /// <summary>The UTF-8 bytes of an id that can be stored; throws <see cref="ArgumentException"/> for one that cannot.</summary>
    private static byte[] Utf8Id(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        byte[] utf8;
        try
        {
            utf8 = StrictUtf8.GetBytes(id);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"id '{id}' is not valid Unicode", nameof(id), e);
        }
        if (utf8.Length > FrontCodedIds.MaxIdBytes)
            throw new ArgumentException($"id is {utf8.Length} UTF-8 bytes; the limit is {FrontCodedIds.MaxIdBytes}", nameof(id));
        return utf8;
    }

    /// <summary>
    /// Sorts the items and removed ids by id and lays the codes out for the scanner; label names are numbered in ordinal order.
    /// Throws on a duplicate id or more than <see cref="ShardSegmentFormat.MaxLabelNames"/> label names.
    /// </summary>
    public ShardSegment Build()
    {
        int n = _ids.Count, bytes = Format.BytesPerCode;
        var names = _labels.OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (names.Length > ShardSegmentFormat.MaxLabelNames)
            throw new InvalidOperationException($"a shard holds at most {ShardSegmentFormat.MaxLabelNames} class names; these items have {names.Length}");
        var labelBytes = new Dictionary<string, byte>(names.Length, StringComparer.Ordinal);
        for (int b = 0; b < names.Length; b++) labelBytes[names[b]] = (byte)b;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => CompareUtf8(_ids[a], _ids[b]));

        var sortedIds = new byte[n][];
        var labels = new byte[n];
        var codes = new byte[BlockedCodes.LayoutLength(Format, n)];
        const int C = Copies.CopyCodec.CodeBytes;
        var copyCodes = _copyCodes is null ? null : new byte[(long)n * C];
        bool blocked = BlockedCodes.For(Format) == CodeLayout.Blocked64;
        for (int i = 0; i < n; i++)
        {
            int source = order[i];
            sortedIds[i] = _ids[source];
            if (i > 0 && sortedIds[i].AsSpan().SequenceEqual(sortedIds[i - 1]))
                throw new InvalidOperationException($"id '{Encoding.UTF8.GetString(sortedIds[i])}' was added twice");
            labels[i] = _labels[source] is { } name ? labelBytes[name] : ShardSegmentFormat.NoLabel;
            for (int p = 0; p < bytes; p++)
            {
                long at = blocked ? BlockedCodes.Offset(i, p, bytes) : (long)i * bytes + p;
                codes[at] = _codes[source * bytes + p];
            }
            if (copyCodes is not null)
                for (int p = 0; p < C; p++) copyCodes[(long)i * C + p] = _copyCodes![source * C + p];
        }
        var removed = _removed.Select(StrictUtf8.GetBytes).ToList();
        removed.Sort(CompareUtf8);
        return new ShardSegment(Format, ModelVersion, FrontCodedIds.Encode(sortedIds), labels, codes, copyCodes, labelNames: names,
            removedIds: FrontCodedIds.Encode(removed));
    }

    private static int CompareUtf8(byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b);

    /// <summary>Builds the segment and writes its file bytes to <paramref name="destination"/>.</summary>
    public void WriteTo(Stream destination) => ShardSegmentWriter.Write(Build(), destination);

    /// <summary>Builds the segment and returns its file bytes.</summary>
    public byte[] ToArray() => ShardSegmentWriter.ToArray(Build());
}
