using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Query;
using Dpq.Storage;

namespace Dpq.Cli.Faults;

/// <summary>
/// What the index holds of the uploaded images, counted from both of its records: the code rows (the table,
/// one row per image id) and what a query host would scan (the segment catalog's files merged as
/// <see cref="IndexSnapshot"/> merges them, hidden items left out). Indexed: the image is visible and its row
/// names the content the blob holds now. Missing: uploaded, and absent from the rows or from the visible items
/// (not yet indexed while a scenario runs; lost if still so at its end).
/// Duplicated: an id in more than one visible item, or a name in more than one row. Stale: a row whose
/// SourceETag is not the blob's ETag, or (when the codes of each content are known) a visible code of an older
/// content of the blob instead of the current one's. CodeMismatches: a visible code that is neither.
/// </summary>
public sealed record Census(int Uploaded, int Indexed, int Missing, int Duplicated, int Stale, int CodeMismatches, long VisibleItems, int Rows,
    IReadOnlyList<string> MissingNames, IReadOnlyList<string> DuplicatedNames, IReadOnlyList<string> StaleNames)
{
    public const int NamesListed = 20;

    public bool Complete => Indexed == Uploaded;
}

/// <summary>The code each uploaded content encodes to (the racing scenario knows it), by blob name and ETag.</summary>
public sealed class ContentCodes
{
    private readonly Dictionary<string, Dictionary<string, byte[]>> _byName = new(StringComparer.Ordinal);

    public void Add(string name, string etag, byte[] code)
    {
        lock (_byName)
        {
            if (!_byName.TryGetValue(name, out var codes)) _byName[name] = codes = new(StringComparer.Ordinal);
            codes[IndexCensus.Bare(etag)] = code;
        }
    }

    /// <summary>The code of <paramref name="name"/>'s content <paramref name="etag"/>, and every other content's code of that name.</summary>
    public (byte[]? Current, IReadOnlyList<byte[]> Others) Of(string name, string etag)
    {
        lock (_byName)
        {
            if (!_byName.TryGetValue(name, out var codes)) return (null, []);
            var bare = IndexCensus.Bare(etag);
            return (codes.GetValueOrDefault(bare), [.. codes.Where(c => c.Key != bare).Select(c => c.Value)]);
        }
    }
}

/// <summary>Takes a <see cref="Census"/> of one model version's index; holds its own segment reader, so a repeated census downloads only new files.</summary>
public sealed class IndexCensus(StorageClients storage, IndexStore store, string modelVersion, CodeFormat format)
{
    private SegmentSetReader? _reader;

    /// <summary>An ETag without its quotes: listings give them bare, property reads and downloads quoted.</summary>
    public static string Bare(string etag) => etag.Trim('"');

    public async Task<Census> TakeAsync(IReadOnlySet<string> uploaded, ContentCodes? codes = null, CancellationToken cancellationToken = default)
    {
        var blobs = new Dictionary<string, string>(StringComparer.Ordinal); // name -> ETag now
        await foreach (var blob in storage.Container(storage.Names.ImagesContainer).GetBlobsAsync(cancellationToken: cancellationToken))
            blobs[blob.Name] = Bare(blob.Properties.ETag?.ToString() ?? "");

        var rows = new Dictionary<string, List<string?>>(StringComparer.Ordinal); // name -> each row's SourceETag
        var visible = new Dictionary<string, List<byte[]>>(StringComparer.Ordinal); // name -> each visible item's code
        var rowCount = 0;
        if (await store.OpenAsync(modelVersion, cancellationToken) is { } index)
        {
            await foreach (var row in index.Rows.ReadAllAsync(cancellationToken))
            {
                rowCount++;
                var name = row.BlobName ?? "";
                if (!rows.TryGetValue(name, out var list)) rows[name] = list = [];
                list.Add(row.SourceETag is { } e ? Bare(e) : null);
            }
            _reader ??= new SegmentSetReader(index, format);
            var (entries, read, _) = await _reader.RefreshAsync(cancellationToken);
            var snapshot = IndexSnapshot.Build(modelVersion, format, entries, _reader, DateTimeOffset.UtcNow, read);
            for (var s = 0; s < snapshot.Segments.Length; s++)
            {
                var segment = snapshot.Segments[s];
                for (var i = 0; i < segment.Count; i++)
                {
                    if (snapshot.Hidden.Contains(s, i)) continue;
                    var code = new byte[format.BytesPerCode];
                    segment.CopyCode(i, code);
                    var id = segment.Ids[i];
                    if (!visible.TryGetValue(id, out var list)) visible[id] = list = [];
                    list.Add(code);
                }
            }
        }

        List<string> missing = [], duplicated = [], stale = [];
        int indexed = 0, mismatches = 0;
        foreach (var name in uploaded)
        {
            var etag = blobs.GetValueOrDefault(name);
            var rowTags = rows.GetValueOrDefault(name) ?? [];
            var items = visible.GetValueOrDefault(name) ?? [];
            if (rowTags.Count > 1 || items.Count > 1) duplicated.Add(name);
            if (rowTags.Count == 0 || items.Count == 0)
            {
                missing.Add(name);
                continue;
            }
            var staleRow = rowTags.Any(t => t != etag);
            var (current, others) = codes is not null && etag is not null ? codes.Of(name, etag) : (null, []);
            var staleCode = current is not null && items.Any(c => !c.AsSpan().SequenceEqual(current) && others.Any(o => o.AsSpan().SequenceEqual(c)));
            if (current is not null && items.Any(c => !c.AsSpan().SequenceEqual(current) && !others.Any(o => o.AsSpan().SequenceEqual(c)))) mismatches++;
            if (staleRow || staleCode) stale.Add(name);
            else indexed++;
        }
        // Ids visible more than once that are not among the uploaded names count too (none are expected).
        duplicated.AddRange(visible.Where(v => v.Value.Count > 1 && !uploaded.Contains(v.Key)).Select(v => v.Key));
        return new Census(uploaded.Count, indexed, missing.Count, duplicated.Count, stale.Count, mismatches, visible.Values.Sum(v => (long)v.Count), rowCount,
            [.. missing.Take(Census.NamesListed)], [.. duplicated.Take(Census.NamesListed)], [.. stale.Take(Census.NamesListed)]);
    }
}
