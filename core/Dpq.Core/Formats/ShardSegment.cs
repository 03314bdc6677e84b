namespace Dpq.Formats;

/// <summary>
/// One shard's items in memory, as the scanner reads them: compact ids, a label byte per item (naming one
/// of <see cref="LabelNames"/>, or <see cref="ShardSegmentFormat.NoLabel"/>) and the codes in the layout of <see cref="Layout"/>. Item i is the i-th id in UTF-8 byte order. Built by
/// <see cref="ShardSegmentBuilder"/> or read by <see cref="ShardSegmentReader"/>; immutable.
/// A segment may also hold a copy code per item (<see cref="Copies.CopyCodec"/>); <see cref="CopyCodes"/>
/// shows them to the scanner as a segment of their own, with the same ids and labels.
/// A segment may also remove ids (<see cref="RemovedIds"/>, from version 4): in an index of layers read oldest
/// first, a removal hides every earlier item of its id. No id is both an item and removed in one segment.
/// </summary>
public sealed class ShardSegment
{
    private readonly byte[] _labels;
    private readonly byte[] _codes;
    private readonly byte[]? _copyCodes;
    private readonly string[] _labelNames;
    private Dictionary<string, byte>? _labelBytes;
    private ShardSegment? _copyView;
    private ShardSegment? _missingView;

    /// <param name="labelNames">The names label bytes index; null for files before version 3, whose byte b is named by its decimal text.</param>
    /// <param name="removedIds">The ids this segment removes; null: none.</param>
    internal ShardSegment(CodeFormat format, string modelVersion, FrontCodedIds ids, byte[] labels, byte[] codes, byte[]? copyCodes = null,
        ushort fileVersion = ShardSegmentFormat.CurrentVersion, string[]? labelNames = null, FrontCodedIds? removedIds = null)
    {
        if (labels.Length != ids.Count)
            throw new InvalidDataException($"segment has {ids.Count} ids but {labels.Length} labels");
        _labelNames = labelNames ?? LabelNameSection.Legacy;
        // Bytes from the name count up to 254 name nothing (255 is "none"); with 255 names every byte is valid.
        if (labelNames is not null && labelNames.Length < ShardSegmentFormat.NoLabel
            && labels.AsSpan().IndexOfAnyInRange((byte)labelNames.Length, (byte)(ShardSegmentFormat.NoLabel - 1)) is >= 0 and var bad)
            throw new InvalidDataException($"segment item {bad} has label byte {labels[bad]}, but the segment names only {labelNames.Length} labels");
        long expected = BlockedCodes.LayoutLength(format, ids.Count);
        if (codes.LongLength != expected)
            throw new InvalidDataException($"segment has {codes.LongLength} code bytes; {ids.Count} items of {format} need {expected}");
        if (copyCodes is not null && copyCodes.LongLength != (long)ids.Count * Copies.CopyCodec.CodeBytes)
            throw new InvalidDataException($"segment has {copyCodes.LongLength} copy code bytes; {ids.Count} items need {(long)ids.Count * Copies.CopyCodec.CodeBytes}");
        removedIds ??= FrontCodedIds.Empty;
        // A segment's items and removals have no order among themselves, so no id may be both.
        for (int r = 0; r < removedIds.Count; r++)
            if (ids.IndexOf(removedIds[r]) >= 0)
                throw new InvalidDataException($"segment removes id '{removedIds[r]}', which it also holds as an item");
        Format = format;
        ModelVersion = modelVersion;
        Ids = ids;
        _labels = labels;
        _codes = codes;
        _copyCodes = copyCodes;
        FileVersion = fileVersion;
        LabelNamesStored = labelNames is not null;
        RemovedIds = removedIds;
    }

    /// <summary>The class names label bytes stand for: byte b is <c>LabelNames[b]</c>.</summary>
    public IReadOnlyList<string> LabelNames => _labelNames;

    /// <summary>Whether the names were stored in the file (version 3) rather than implied by the byte values.</summary>
    internal bool LabelNamesStored { get; }

    internal string[]? StoredLabelNames => LabelNamesStored ? _labelNames : null;

    /// <summary>Item <paramref name="item"/>'s class name; null when it has none.</summary>
    public string? LabelOf(int item) => _labels[item] == ShardSegmentFormat.NoLabel ? null : _labelNames[_labels[item]];

    /// <summary>The label byte that stands for <paramref name="name"/> here; false when no item of this segment could have it.</summary>
    public bool TryGetLabelByte(string name, out byte label)
    {
        var map = _labelBytes;
        if (map is null)
        {
            map = new Dictionary<string, byte>(_labelNames.Length, StringComparer.Ordinal);
            for (int b = 0; b < _labelNames.Length; b++) map[_labelNames[b]] = (byte)b;
            _labelBytes = map;
        }
        return map.TryGetValue(name, out label);
    }

    /// <summary>The file version this segment was read from (the current one for a built segment): the compactor rewrites older ones.</summary>
    public ushort FileVersion { get; }

    public bool HasCopyCodes => _copyCodes is not null;

    /// <summary>
    /// The copy codes' scanned bytes (<see cref="Copies.CopyCodec.ScanBytes"/> per item) as a segment of
    /// <see cref="Copies.CopyCodec.Format"/> with the same ids, labels and removals, made on first use; null without copy codes.
    /// </summary>
    public ShardSegment? CopyCodes => _copyCodes is null ? null : _copyView ??= ScanView(_copyCodes);

    private ShardSegment ScanView(byte[] copyCodes)
    {
        const int C = Copies.CopyCodec.CodeBytes, S = Copies.CopyCodec.ScanBytes;
        var scan = new byte[(long)Count * S];
        for (int i = 0; i < Count; i++) copyCodes.AsSpan(i * C, S).CopyTo(scan.AsSpan(i * S));
        return View(scan);
    }

    /// <summary>
    /// <see cref="CopyCodes"/>, or for a segment without copy codes a view of the same items whose codes
    /// are all <see cref="Copies.CopyCodec.Missing"/>, so that one copy scan covers every segment of an index
    /// (the scan excludes missing items: see IndexSnapshot.SearchCopies).
    /// </summary>
    public ShardSegment CopyCodesOrMissing()
    {
        if (CopyCodes is { } view) return view;
        return _missingView ??= MissingView();
    }

    private ShardSegment MissingView()
    {
        const int S = Copies.CopyCodec.ScanBytes;
        var missing = new byte[(long)Count * S];
        for (int i = 0; i < Count; i++) missing[(long)i * S + Copies.CopyCodec.CrossByte] = Copies.CopyCodec.Missing;
        return View(missing);
    }

    /// <summary>A segment of <see cref="Copies.CopyCodec.Format"/> codes with the same ids, labels and removals.</summary>
    private ShardSegment View(byte[] scanCodes) =>
        new(Copies.CopyCodec.Format, ModelVersion, Ids, _labels, scanCodes, fileVersion: FileVersion, labelNames: StoredLabelNames, removedIds: RemovedIds);

    /// <summary>Item <paramref name="item"/>'s copy code; empty when the segment has none.</summary>
    public ReadOnlySpan<byte> CopyCodeOf(int item) =>
        _copyCodes is null ? default : _copyCodes.AsSpan(checked(item * Copies.CopyCodec.CodeBytes), Copies.CopyCodec.CodeBytes);

    internal byte[]? CopyCodeArray => _copyCodes;

    public CodeFormat Format { get; }

    /// <summary>Version of the model whose codebooks produced the codes; tables of another model are meaningless here.</summary>
    public string ModelVersion { get; }

    public FrontCodedIds Ids { get; }

    public int Count => Ids.Count;

    /// <summary>The ids this segment removes, in UTF-8 byte order; empty for files before version 4 and segments that remove nothing.</summary>
    public FrontCodedIds RemovedIds { get; }

    public CodeLayout Layout => BlockedCodes.For(Format);

    public ReadOnlySpan<byte> Labels => _labels;

    /// <summary>Codes in <see cref="Layout"/> order (blocked for K = 16, so not one code after another).</summary>
    internal ReadOnlySpan<byte> LaidOutCodes => _codes;

    internal byte[] LabelArray => _labels;

    internal byte[] CodeArray => _codes;

    /// <summary>Managed bytes held by codes, labels, ids and removed ids, for memory accounting.</summary>
    public long HeldBytes => _codes.LongLength + _labels.LongLength + (_copyCodes?.LongLength ?? 0) + (_copyView?.CodeArray.LongLength ?? 0) + Ids.HeldBytes + RemovedIds.HeldBytes;

    /// <summary>Copies item <paramref name="item"/>'s packed code (<see cref="CodeFormat.BytesPerCode"/> bytes) to <paramref name="code"/>.</summary>
    public void CopyCode(int item, Span<byte> code)
    {
        if ((uint)item >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(item), item, $"item must be below {Count}");
        int bytes = Format.BytesPerCode;
        if (code.Length < bytes)
            throw new ArgumentException($"destination needs {bytes} bytes", nameof(code));
        if (Layout == CodeLayout.RowMajor)
        {
            _codes.AsSpan(item * bytes, bytes).CopyTo(code);
            return;
        }
        for (int p = 0; p < bytes; p++)
            code[p] = _codes[BlockedCodes.Offset(item, p, bytes)];
    }
}
