using System.Diagnostics;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Storage;

namespace Dpq.Worker;

/// <summary>
/// Keeps the active model version's index compact for as long as the process lives: every Interval,
/// seals deltas into shard segments once MinDeltas have piled up (passes back to back until fewer
/// are left). Every SweepInterval it deletes segment files that no catalog row lists and looks for
/// listed files that are gone; every VerifyInterval it also downloads every listed file to check its
/// checksum. A lost file, found so or by a compaction pass, makes it rebuild the index from the codes
/// table. Once per version and process it also seals table rows written before segment files existed.
/// </summary>
public sealed class CompactionWorker(SegmentCompactor compactor, StorageClients storage, ActiveModelCache models, CompactionOptions options, ILogger<CompactionWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        var manifest = new ShardManifest(storage.Table(storage.Names.ManifestsTable));
        var tableChecked = new HashSet<string>(StringComparer.Ordinal);
        var upgraded = new HashSet<string>(StringComparer.Ordinal);
        long? lastSweep = null, lastVerify = null, lastRepair = null; // Stopwatch timestamps; null: never yet
        await storage.EnsureCreatedAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await registry.GetActiveAsync(stoppingToken) is { } active)
                {
                    if (await models.GetAsync(stoppingToken) is not { } model || model.ModelVersion != active.Version)
                    {
                        await Task.Delay(options.Interval, stoppingToken);
                        continue; // the worker has not loaded this model yet
                    }
                    var format = new CodeFormat(model.Codewords, model.Levels);
                    if (!tableChecked.Contains(active.Version))
                    {
                        // Rows from before segment files are sealed before any compaction of this version,
                        // whose first sealing would otherwise take the seg-0 row and shut them out.
                        var shards = await manifest.ReadAsync(active.Version, stoppingToken);
                        if (shards.Count > 0)
                            await compactor.SealTableRowsAsync(active.Version, shards[0].ShardCount, format, stoppingToken);
                        tableChecked.Add(active.Version);
                    }
                    if (!upgraded.Contains(active.Version))
                    {
                        // Sealed files of an older format version are rewritten in the current one, once per version and
                        // start (a range read per sealed file); a failure is logged, compaction goes on, and the next pass tries again.
                        try
                        {
                            await compactor.UpgradeSealedAsync(active.Version, format, stoppingToken);
                            upgraded.Add(active.Version);
                        }
                        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                        {
                            logger.LogWarning(e, "Rewriting older segment files of {ModelVersion} failed; the next pass tries again", active.Version);
                        }
                    }
                    // Passes back to back while a backlog lasts: one pass retires at most 100 catalog rows.
                    CompactionResult result;
                    do result = await compactor.CompactOnceAsync(active.Version, options.MinDeltas, cancellationToken: stoppingToken);
                    while (result.DeltasMerged > 0);
                    // A pass that met a lost file (gone, or present but damaged: hence the download check) brings
                    // the check forward, at most once per SweepInterval, so a failing repair is not retried every pass.
                    // Timestamps are taken before the work: a failed sweep waits its interval too.
                    var repairedNow = false;
                    if (result.LostFiles > 0 && Due(lastRepair, options.SweepInterval))
                    {
                        lastRepair = lastVerify = Stopwatch.GetTimestamp();
                        repairedNow = true;
                        await compactor.RepairLostAsync(active.Version, format, verifyContents: true, stoppingToken);
                    }
                    if (Due(lastSweep, options.SweepInterval))
                    {
                        var verify = Due(lastVerify, options.VerifyInterval);
                        lastSweep = Stopwatch.GetTimestamp();
                        if (verify) lastVerify = lastSweep;
                        await compactor.DeleteOrphansAsync(active.Version, options.OrphanAge, stoppingToken);
                        if (!repairedNow) await compactor.RepairLostAsync(active.Version, format, verify, stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Compaction pass failed; the next one runs in {Interval}", options.Interval);
            }
            await Task.Delay(options.Interval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static bool Due(long? last, TimeSpan interval) => last is null || Stopwatch.GetElapsedTime(last.Value) >= interval;
}
