using Dpq.Ingest;
using Dpq.Model;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Models;

/// <summary>Where and how often the active model is looked for.</summary>
public sealed record ModelCacheOptions
{
    public const string Section = "Models";

    /// <summary>Local folder for downloaded model versions.</summary>
    public string CacheDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "dpq-models");

    /// <summary>How often the active pointer is re-read.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The active model, loaded once per version: reads the registry's pointer at most every
/// RefreshInterval, downloads and loads a version when the pointer moves. Both the encode worker
/// (as its <see cref="IEncoderProvider"/>) and the query side use it.
/// </summary>
public sealed class ActiveModelCache(StorageClients storage, ModelCacheOptions options, TimeProvider time, ILogger<ActiveModelCache> logger)
    : IEncoderProvider, IDisposable
{
    private readonly ModelRegistry _registry = new(storage.Container(storage.Names.ModelsContainer));
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LoadedModel? _current;
    private DateTimeOffset _checkedAt = DateTimeOffset.MinValue;

    /// <summary>The active model, or null when no model has been activated yet.</summary>
    public async Task<LoadedModel?> GetAsync(CancellationToken cancellationToken = default)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && time.GetUtcNow() - _checkedAt < options.RefreshInterval) return current;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_current is not null && time.GetUtcNow() - _checkedAt < options.RefreshInterval) return _current;
            var active = await _registry.GetActiveAsync(cancellationToken);
            _checkedAt = time.GetUtcNow();
            if (active is null || active.Version == _current?.ModelVersion) return _current;

            logger.LogInformation("Loading model {ModelVersion}", active.Version);
            var dir = await _registry.DownloadAsync(active.Version, options.CacheDirectory, cancellationToken);
            var loaded = new LoadedModel(DpqModel.Load(dir));
            var warm = System.Diagnostics.Stopwatch.StartNew();
            loaded.WarmUp();
            logger.LogInformation("Model {ModelVersion} loaded; first forward pass {WarmUpMs:F0} ms", active.Version, warm.Elapsed.TotalMilliseconds);
            // The previous model is left to the GC: a query may still be using it.
            Volatile.Write(ref _current, loaded);
            return loaded;
        }
        finally
        {
            _gate.Release();
        }
    }

    async Task<IImageEncoder?> IEncoderProvider.GetEncoderAsync(CancellationToken cancellationToken) => await GetAsync(cancellationToken);

    public void Dispose()
    {
        _current?.Dispose();
        _gate.Dispose();
    }
}
