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
/// The query side's copy of a model version's index: the segment files the catalog lists, held in
/// memory (<see cref="SegmentSetReader"/>). At most every RefreshInterval it re-reads the catalog and
/// downloads only segments it does not hold; nothing reads the codes table. Sealed segments are used as
/// stored; the deltas are merged into one tail segment, and sealed items whose id the tail holds are
/// hidden, so every id is found once, with its newest code. Versions never mix: a new version starts
/// empty. A due refresh of the held version runs in the background while queries keep the held index
/// (<see cref="QueryOptions.IndexRefreshInBackground"/>); a first load or a new version is waited for.
/// </summary>
public sealed class IndexCache(IndexStore store, QueryOptions options, TimeProvider time, ILogger<IndexCache> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SegmentSetReader? _reader; // of the snapshot's version
    private IndexSnapshot? _snapshot;
    private int _refreshing; // 1 while a background refresh runs
    public async Task<IndexSnapshot> GetAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken = default)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        if (IsFresh(snapshot, modelVersion)) return snapshot!;
        if (options.IndexRefreshInBackground && snapshot?.ModelVersion == modelVersion)
        {
            if (Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0)
                _ = Task.Run(() => RefreshInBackgroundAsync(modelVersion, format), CancellationToken.None);
            return snapshot;
        }
        return await RefreshAsync(modelVersion, format, cancellationToken);
    }

    /// <summary>Completes when no background refresh is running (tests).</summary>
    internal async Task WaitForBackgroundRefreshAsync()
    {
        while (Volatile.Read(ref _refreshing) != 0) await Task.Delay(10);
    }

    private async Task RefreshInBackgroundAsync(string modelVersion, CodeFormat format)
    {
        try
        {
            await RefreshAsync(modelVersion, format, CancellationToken.None);
        }
        catch (Exception e)
        {
            // RefreshAsync keeps a loaded index of this version on failure; this is what is left.
            logger.LogError(e, "Background refresh of the index of {ModelVersion} failed", modelVersion);
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    /// <summary>Refreshes under the gate unless another caller just did; on failure keeps a loaded index of the same version.</summary>
    private async Task<IndexSnapshot> RefreshAsync(string modelVersion, CodeFormat format, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (IsFresh(_snapshot, modelVersion)) return _snapshot!;
            if (_snapshot?.ModelVersion != modelVersion) _reader = null; // never mix versions
            var checkedAt = time.GetUtcNow();
            IndexSnapshot fresh;
            try
            {
                fresh = await LoadAsync(modelVersion, format, checkedAt, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (_snapshot?.ModelVersion != modelVersion)
                    throw e as IndexUnavailableException ?? new IndexUnavailableException($"the index of {modelVersion} cannot be loaded: {e.Message}", e);
                logger.LogError(e, "Refreshing the index of {ModelVersion} failed; answering from the one loaded at {LoadedAt}", modelVersion, _snapshot.CheckedAt);
                fresh = _snapshot with { CheckedAt = checkedAt, SegmentsRead = 0 };
            }
            Volatile.Write(ref _snapshot, fresh);
            return fresh;
        }
        finally
        {
            _gate.Release();
        }
    }

    private bool IsFresh(IndexSnapshot? snapshot, string modelVersion) =>
        snapshot is not null && snapshot.ModelVersion == modelVersion && time.GetUtcNow() - snapshot.CheckedAt < options.IndexRefreshInterval;

    private async Task<IndexSnapshot> LoadAsync(string modelVersion, CodeFormat format, DateTimeOffset checkedAt, CancellationToken cancellationToken)
    {
        if (_reader is null)
        {
            if (await store.OpenAsync(modelVersion, cancellationToken) is not { } index)
                return IndexSnapshot.Empty(modelVersion, checkedAt); // nothing written to this version yet
            _reader = new SegmentSetReader(index, format);
        }
        IReadOnlyList<SegmentEntry> entries;
        int read, dropped;
        try
        {
            (entries, read, dropped) = await _reader.RefreshAsync(cancellationToken);
        }
        catch (SegmentsMissingException e)
        {
            throw new IndexUnavailableException(e.Message, e);
        }
        if (read == 0 && dropped == 0 && _snapshot is { } same && same.ModelVersion == modelVersion)
            return same with { CheckedAt = checkedAt, SegmentsRead = 0 };
        var snapshot = IndexSnapshot.Build(modelVersion, format, entries, _reader, checkedAt, read);
        logger.LogInformation("Index of {ModelVersion}: {Segments} segments ({Read} read, {Dropped} dropped), {Items} items, {Hidden} replaced items hidden",
            modelVersion, entries.Count, read, dropped, snapshot.Items, snapshot.Hidden.Count);
        return snapshot;
    }
}
