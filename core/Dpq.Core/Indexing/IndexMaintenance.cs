using System.Diagnostics;
using Dpq.Formats;
using Dpq.ModelVersions;
using Microsoft.Extensions.Logging;

namespace Dpq.Indexing;

/// <summary>
/// What keeps the active version's index compact and whole, one pass per call of <see cref="RunOnceAsync"/>
/// (the worker calls it every <see cref="CompactionOptions.Interval"/>): seals deltas into shard segments
/// once MinDeltas have piled up (passes back to back until fewer are left); every SweepInterval deletes
/// unlisted segment files and looks for listed files that are gone; every VerifyInterval also downloads
/// every listed file to check its checksum. A lost file, found so or by a compaction pass, makes it rebuild
/// the index from the code rows. Once per version and process it seals rows written before segment files
/// existed and rewrites sealed files of older format versions.
/// </summary>
public sealed class IndexMaintenance(IndexStore store, ModelRegistry registry, ActiveModelCache models, DeltaCompactor compactor, IndexRepair repair,
    OrphanSweeper sweeper, CompactionOptions options, ILogger<IndexMaintenance> logger)
{
    private readonly HashSet<string> _tableChecked = new(StringComparer.Ordinal);
    private readonly HashSet<string> _upgraded = new(StringComparer.Ordinal);
    private long? _lastSweep, _lastVerify, _lastRepair; // Stopwatch timestamps; null: never yet

    /// <summary>One pass; false when there was nothing to maintain (no active model, or the worker has not loaded it yet).</summary>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        if (await registry.GetActiveAsync(cancellationToken) is not { } active) return false;
        if (await models.GetAsync(cancellationToken) is not { } model || model.ModelVersion != active.Version) return false;
        if (await store.OpenAsync(active.Version, cancellationToken) is not { } index) return false; // nothing written yet
        var format = new CodeFormat(model.Codewords, model.Levels);
        if (_tableChecked.Add(active.Version))
        {
            // Rows from before segment files are sealed before any compaction of this version,
            // whose first sealing would otherwise take the seg-0 row and shut them out.
            await repair.SealTableRowsAsync(index, format, cancellationToken);
        }
        if (!_upgraded.Contains(active.Version))
        {
            // Sealed files of an older format version are rewritten in the current one, once per version and
            // start (a range read per sealed file); a failure is logged, compaction goes on, and the next pass tries again.
            try
            {
                await compactor.UpgradeSealedAsync(index, format, cancellationToken);
                _upgraded.Add(active.Version);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Rewriting older segment files of {ModelVersion} failed; the next pass tries again", active.Version);
            }
        }
        // Passes back to back while a backlog lasts: one pass retires at most 100 catalog rows.
        CompactionResult result;
        do result = await compactor.CompactOnceAsync(index, options.MinDeltas, cancellationToken: cancellationToken);
        while (result.DeltasMerged > 0);
        // A pass that met a lost file (gone, or present but damaged: hence the download check) brings the
        // check forward, at most once per SweepInterval, so a failing repair is not retried every pass.
        // Timestamps are taken before the work: a failed sweep waits its interval too.
        var repairedNow = false;
        if (result.LostFiles > 0 && Due(_lastRepair, options.SweepInterval))
        {
            _lastRepair = _lastVerify = Stopwatch.GetTimestamp();
            repairedNow = true;
            await repair.RepairLostAsync(index, format, verifyContents: true, cancellationToken);
        }
        if (Due(_lastSweep, options.SweepInterval))
        {
            var verify = Due(_lastVerify, options.VerifyInterval);
            _lastSweep = Stopwatch.GetTimestamp();
            if (verify) _lastVerify = _lastSweep;
            await sweeper.DeleteOrphansAsync(index, options.OrphanAge, cancellationToken);
            if (!repairedNow) await repair.RepairLostAsync(index, format, verify, cancellationToken);
        }
        return true;
    }

    private static bool Due(long? last, TimeSpan interval) => last is null || Stopwatch.GetElapsedTime(last.Value) >= interval;
}
