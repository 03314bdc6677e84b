using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Models;
using Dpq.Storage;

namespace Dpq.Worker;

/// <summary>
/// Keeps the active model version's index compact for as long as the process lives: every Interval,
/// seals deltas into shard segments once MinDeltas have piled up (one pass per round, so a large
/// backlog drains over several), and deletes segment files that no catalog row lists. Once per
/// version and process it also seals table rows written before segment files existed.
/// </summary>
public sealed class CompactionWorker(SegmentCompactor compactor, StorageClients storage, ActiveModelCache models, CompactionOptions options, ILogger<CompactionWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        var manifest = new ShardManifest(storage.Table(storage.Names.ManifestsTable));
        var tableChecked = new HashSet<string>(StringComparer.Ordinal);
        await storage.EnsureCreatedAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await registry.GetActiveAsync(stoppingToken) is { } active)
                {
                    if (!tableChecked.Contains(active.Version) && await models.GetAsync(stoppingToken) is { } model && model.ModelVersion == active.Version)
                    {
                        var shards = await manifest.ReadAsync(active.Version, stoppingToken);
                        if (shards.Count > 0)
                            await compactor.SealTableRowsAsync(active.Version, shards[0].ShardCount, new CodeFormat(model.Codewords, model.Levels), stoppingToken);
                        tableChecked.Add(active.Version);
                    }
                    var result = await compactor.CompactOnceAsync(active.Version, options.MinDeltas, stoppingToken);
                    if (result.DeltasMerged == 0) await compactor.DeleteOrphansAsync(active.Version, options.OrphanAge, stoppingToken);
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
