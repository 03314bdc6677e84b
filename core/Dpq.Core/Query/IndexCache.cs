using System.Collections.Immutable;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Scan;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Query;

/// <summary>The index cannot be loaded (a listed segment file is missing or unreadable); answered with 503.</summary>
public sealed class IndexUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The query side's copy of the index: for each of the (at most <see cref="HeldVersions"/>) model versions
/// it was last asked for, the segment files the catalog lists, held in memory (<see cref="SegmentSetReader"/>).
/// At most every RefreshInterval it re-reads a version's catalog and downloads only segments it does not
/// hold; nothing reads the codes table. Sealed segments are used as stored; the deltas are merged into one
/// tail segment, and sealed items whose id the tail holds or removes are hidden, so every id is found
/// once, with its newest code. Versions never mix: each has its own segments. Two are held so that the next
/// version can be loaded before the pointer's move reaches queries (<see cref="IndexPreloader"/>) while the
/// active one keeps answering. A due refresh of a held version runs in the background while queries keep
/// the held index (<see cref="QueryOptions.IndexRefreshInBackground"/>); a first load is waited for.
/// </summary>
public sealed class IndexCache(IndexStore store, QueryOptions options, TimeProvider time, ILogger<IndexCache> logger)
{
    /// <summary>Versions held at once: the active one and the next.</summary>
    public const int HeldVersions = 2;

    /// <summary>One version's held index.</summary>
    private sealed class Held
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public SegmentSetReader? Reader;
        public IndexSnapshot? Snapshot;
        public int Refreshing; // 1 while a background refresh runs
        public long LastUsed;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Held> _held = new(StringComparer.Ordinal);

    public async Task<IndexSnapshot> GetAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var held = Entry(modelVersion);
        var snapshot = Volatile.Read(ref held.Snapshot);
        if (IsFresh(snapshot)) return snapshot!;
        if (options.IndexRefreshInBackground && snapshot is not null)
        {
            if (Interlocked.CompareExchange(ref held.Refreshing, 1, 0) == 0)
                _ = Task.Run(() => RefreshInBackgroundAsync(held, modelVersion, format), CancellationToken.None);
            return snapshot;
        }
        return await RefreshAsync(held, modelVersion, format, cancellationToken);
    }

    /// <summary>The held entry of <paramref name="modelVersion"/>, made if new; the least recently used beyond <see cref="HeldVersions"/> is dropped.</summary>
    private Held Entry(string modelVersion)
    {
        lock (_lock)
        {
            if (!_held.TryGetValue(modelVersion, out var held))
            {
                _held[modelVersion] = held = new Held();
                while (_held.Count > HeldVersions)
                    _held.Remove(_held.Where(kv => kv.Value != held).MinBy(kv => kv.Value.LastUsed).Key);
            }
            held.LastUsed = time.GetTimestamp();
            return held;
        }
    }

    /// <summary>Completes when no background refresh is running (tests).</summary>
    internal async Task WaitForBackgroundRefreshAsync()
    {
        while (true)
        {
            lock (_lock)
                if (_held.Values.All(h => Volatile.Read(ref h.Refreshing) == 0)) return;
            await Task.Delay(10);
        }
    }

    private async Task RefreshInBackgroundAsync(Held held, string modelVersion, CodeFormat format)
    {
        try
        {
            await RefreshAsync(held, modelVersion, format, CancellationToken.None);
        }
        catch (Exception e)
        {
            // RefreshAsync keeps a loaded index on failure; this is what is left.
            logger.LogError(e, "Background refresh of the index of {ModelVersion} failed", modelVersion);
        }
        finally
        {
            Volatile.Write(ref held.Refreshing, 0);
        }
    }

    /// <summary>Refreshes under the version's gate unless another caller just did; on failure keeps a loaded index.</summary>
    private async Task<IndexSnapshot> RefreshAsync(Held held, string modelVersion, CodeFormat format, CancellationToken cancellationToken)
    {
        await held.Gate.WaitAsync(cancellationToken);
        try
        {
            if (IsFresh(held.Snapshot)) return held.Snapshot!;
            var checkedAt = time.GetUtcNow();
            IndexSnapshot fresh;
            try
            {
                fresh = await LoadAsync(held, modelVersion, format, checkedAt, cancellationToken);
            }
            catch (Exception e) when (IsLostFile(e) && held.Snapshot is null && held.Reader is { } reader)
            {
                // A new host, and a listed file is lost or damaged: the codes table holds every image too (rows are
                // written before their segment file), so it answers from there until a worker has repaired the files.
                logger.LogError(e, "The segment files of {ModelVersion} cannot all be read; answering from the codes table until they are repaired", modelVersion);
                fresh = await FromRowsAsync(reader.Index, format, checkedAt, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (held.Snapshot is not { } loaded)
                    throw e as IndexUnavailableException ?? new IndexUnavailableException($"the index of {modelVersion} cannot be loaded: {e.Message}", e);
                logger.LogError(e, "Refreshing the index of {ModelVersion} failed; answering from the one loaded at {LoadedAt}", modelVersion, loaded.CheckedAt);
                fresh = loaded with { CheckedAt = checkedAt, SegmentsRead = 0 };
            }
            Volatile.Write(ref held.Snapshot, fresh);
            return fresh;
        }
        finally
        {
            held.Gate.Release();
        }
    }

    private static bool IsLostFile(Exception e) => e is InvalidDataException || e.InnerException is SegmentsMissingException;

    /// <summary>The version's index as its code rows hold it: one segment, nothing hidden.</summary>
    private static async Task<IndexSnapshot> FromRowsAsync(VersionIndex index, CodeFormat format, DateTimeOffset checkedAt, CancellationToken cancellationToken)
    {
        var rows = new List<IndexedImage>();
        await foreach (var row in index.Rows.ReadAllAsync(cancellationToken)) rows.Add(row);
        if (rows.Count == 0) return IndexSnapshot.Empty(index.ModelVersion, checkedAt);
        var segment = IndexSegments.FromImages(format, index.ModelVersion, rows);
        return new IndexSnapshot(index.ModelVersion, [segment], Scan.ItemExclusions.Create([segment], []), checkedAt) { ShardCount = index.ShardCount };
    }

    private bool IsFresh(IndexSnapshot? snapshot) => snapshot is not null && time.GetUtcNow() - snapshot.CheckedAt < options.IndexRefreshInterval;

    private async Task<IndexSnapshot> LoadAsync(Held held, string modelVersion, CodeFormat format, DateTimeOffset checkedAt, CancellationToken cancellationToken)
    {
        if (held.Reader is null)
        {
            if (await store.OpenAsync(modelVersion, cancellationToken) is not { } index)
                return IndexSnapshot.Empty(modelVersion, checkedAt); // nothing written to this version yet
            held.Reader = new SegmentSetReader(index, format);
        }
        IReadOnlyList<SegmentEntry> entries;
        int read, dropped;
        try
        {
            (entries, read, dropped) = await held.Reader.RefreshAsync(cancellationToken);
        }
        catch (SegmentsMissingException e)
        {
            throw new IndexUnavailableException(e.Message, e);
        }
        if (read == 0 && dropped == 0 && held.Snapshot is { } same)
            return same with { CheckedAt = checkedAt, SegmentsRead = 0 };
        var snapshot = IndexSnapshot.Build(modelVersion, format, entries, held.Reader, checkedAt, read) with { ShardCount = held.Reader.Index.ShardCount };
        logger.LogInformation("Index of {ModelVersion}: {Segments} segments ({Read} read, {Dropped} dropped), {Items} items, {Hidden} replaced items hidden",
            modelVersion, entries.Count, read, dropped, snapshot.Items, snapshot.Hidden.Count);
        return snapshot;
    }
}

/// <summary>
/// Loads a model version's index before the query side switches to the model (<see cref="ModelVersions.IModelPreloader"/>),
/// so the first answers of a new version are neither slow nor failed: a version whose index cannot be loaded is not switched to.
/// </summary>
public sealed class IndexPreloader(IndexCache index) : ModelVersions.IModelPreloader
{
    public Task PreloadAsync(ModelFiles.LoadedModel model, CancellationToken cancellationToken) =>
        index.GetAsync(model.ModelVersion, new CodeFormat(model.Codewords, model.Levels), cancellationToken);
}
