using Dpq.Formats;

namespace Dpq.Indexing;

/// <summary>
/// A held copy of the segment files one version's catalog lists: each refresh re-reads the catalog (one
/// small query) and downloads only the files it does not hold, and drops the ones no longer listed. A
/// file compacted away between the catalog read and its download makes the refresh read the catalog
/// again. Not thread-safe: its owner serialises refreshes. Each consumer (the query side, the
/// reconciler) holds its own.
/// </summary>
public sealed class SegmentSetReader(VersionIndex index, CodeFormat format)
{
    private const int Attempts = 3;

    private readonly Dictionary<string, ShardSegment> _held = new(StringComparer.Ordinal); // by catalog key

    public VersionIndex Index => index;
    public CodeFormat Format => format;

    /// <summary>The held segment of a listed entry.</summary>
    public ShardSegment this[string key] => _held[key];

    /// <summary>
    /// The catalog's entries, every one of them held; Read: files downloaded, Dropped: held files no longer
    /// listed. Throws <see cref="InvalidDataException"/> (with the file's name) for a listed file that
    /// cannot be read, and <see cref="SegmentsMissingException"/> when listed files are still missing after
    /// <see cref="Attempts"/> catalog reads.
    /// </summary>
    public async Task<(IReadOnlyList<SegmentEntry> Entries, int Read, int Dropped)> RefreshAsync(CancellationToken cancellationToken = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            var entries = await index.Catalog.ListAsync(cancellationToken);
            var missing = entries.Where(e => !_held.ContainsKey(e.Key)).ToList();
            var fetched = new ShardSegment?[missing.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, missing.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                async (i, ct) => fetched[i] = await index.Files.ReadAsync(missing[i].BlobName, format, ct));
            for (var i = 0; i < missing.Count; i++)
                if (fetched[i] is { } segment) _held[missing[i].Key] = segment;
            if (fetched.Any(f => f is null))
            {
                if (attempt == Attempts)
                    throw new SegmentsMissingException($"segment files listed for {index.ModelVersion} are missing after {Attempts} catalog reads");
                continue; // compacted away since the catalog was read: read it again
            }
            var listed = entries.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
            var dropped = _held.Keys.Where(k => !listed.Contains(k)).ToList();
            foreach (var key in dropped) _held.Remove(key);
            return (entries, missing.Count, dropped.Count);
        }
    }
}

/// <summary>Segment files the catalog lists stayed missing over several catalog reads: lost, until the worker repairs the index.</summary>
public sealed class SegmentsMissingException(string message) : Exception(message);
