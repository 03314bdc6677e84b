using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Models;
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
        var sinceSweep = System.Diagnostics.Stopwatch.StartNew();
        var sinceVerify = System.Diagnostics.Stopwatch.StartNew();
        var firstSweep = true;
        var sinceRepair = System.Diagnostics.Stopwatch.StartNew();
        var repaired = false;
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
                    // Passes back to back while a backlog lasts: one pass retires at most 100 catalog rows.
                    CompactionResult result;
                    do result = await compactor.CompactOnceAsync(active.Version, options.MinDeltas, cancellationToken: stoppingToken);
                    while (result.DeltasMerged > 0);
                    // A pass that met a lost file (gone, or present but damaged: hence the download check) brings
                    // the sweep forward, at most once per SweepInterval, so a failing repair is not retried every pass.
                    if (result.LostFiles > 0 && (!repaired || sinceRepair.Elapsed >= options.SweepInterval))
                    {
                        sinceRepair.Restart();
                        repaired = true;
                        await compactor.RepairLostAsync(active.Version, format, verifyContents: true, stoppingToken);
                    }
                    if (firstSweep || sinceSweep.Elapsed >= options.SweepInterval)
                    {
                        var verify = firstSweep || sinceVerify.Elapsed >= options.VerifyInterval;
                        try
                        {
                            await compactor.DeleteOrphansAsync(active.Version, options.OrphanAge, stoppingToken);
                            await compactor.RepairLostAsync(active.Version, format, verify, stoppingToken);
                        }
                        finally
                        {
                            // A failed sweep waits its interval too: a degraded store is not downloaded every pass.
                            sinceSweep.Restart();
                            if (verify) sinceVerify.Restart();
                            firstSweep = false;
                        }
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
}
