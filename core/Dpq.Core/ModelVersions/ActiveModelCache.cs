using Dpq.ModelFiles;
using Dpq.Ingest;
using Dpq.Onnx;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>Where and how often the active model is looked for.</summary>
public sealed record ModelCacheOptions
{
    public const string Section = "Models";

    /// <summary>Local folder for downloaded model versions.</summary>
    public string CacheDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "dpq-models");

    /// <summary>How often the active pointer is re-read.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a version that failed to load is left alone before it is tried again.</summary>
    public TimeSpan FailedLoadRetryInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// While a model is held, a due check of the pointer runs in the background and callers get the
    /// held model at once, so a storage blip never holds up a query; false checks on the caller's
    /// time (read-your-writes, for tests).
    /// </summary>
    public bool RefreshInBackground { get; init; } = true;
}

/// <summary>What a host prepares for a model version before it serves it (the query side: the version's index).</summary>
public interface IModelPreloader
{
    Task PreloadAsync(LoadedModel model, CancellationToken cancellationToken);
}

/// <summary>A model version that the pointer names but that could not be loaded, and why.</summary>
public sealed record ModelLoadFailure(string Version, string Reason, DateTimeOffset At);

/// <summary>
/// The active model, loaded once per version: reads the registry's pointer at most every
/// RefreshInterval, downloads and loads a version when the pointer moves. A version that cannot be
/// loaded (a missing, damaged or mismatched file) leaves the previous model serving and is reported
/// by <see cref="LastFailure"/>; so is one that a preloader cannot prepare (on a query host, one whose
/// index cannot be loaded) while another serves. Both the encode worker (through <see cref="WritableModels"/>)
/// and the query side use it.
/// </summary>
public sealed class ActiveModelCache(ModelRegistry registry, ModelCacheOptions options, InferenceOptions inference, TimeProvider time,
    ILogger<ActiveModelCache> logger, IEnumerable<IModelPreloader>? preloaders = null) : IDisposable
{
    
    private readonly SemaphoreSlim _gate = new(1, 1);
    private LoadedModel? _current;
    private string? _currentStamp; // model.json's ETag when _current was downloaded
    private ModelLoadFailure? _failure;
    private DateTimeOffset _checkedAt = DateTimeOffset.MinValue;
    private int _refreshing;

    /// <summary>The newest version the pointer named that could not be loaded; null once the served model is the active one.</summary>
    public ModelLoadFailure? LastFailure => Volatile.Read(ref _failure);

    /// <summary>The model being served, or null when no model has been activated (or none could be loaded) yet.</summary>
    public async Task<LoadedModel?> GetAsync(CancellationToken cancellationToken = default)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null)
        {
            if (time.GetUtcNow() - _checkedAt < options.RefreshInterval) return current;
            if (options.RefreshInBackground)
            {
                StartBackgroundRefresh();
                return current;
            }
        }
        return await RefreshAsync(cancellationToken);
    }

    private void StartBackgroundRefresh()
    {
        if (Interlocked.CompareExchange(ref _refreshing, 1, 0) != 0) return;
        _ = Task.Run(async () =>
        {
            try
            {
                await RefreshAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Background check of the active model failed; serving the held one");
            }
            finally
            {
                Volatile.Write(ref _refreshing, 0);
            }
        });
    }

    /// <summary>Reads the pointer and loads a new version; with a model held, a failed read keeps it (and waits an interval).</summary>
    private async Task<LoadedModel?> RefreshAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_current is not null && time.GetUtcNow() - _checkedAt < options.RefreshInterval) return _current;
            ActiveModel? active;
            try
            {
                active = await registry.GetActiveAsync(cancellationToken);
            }
            catch (Exception e) when (_current is not null && !(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                // Storage is unreachable or answers errors: what is held keeps serving.
                _checkedAt = time.GetUtcNow();
                logger.LogWarning(e, "Could not read the active model pointer; still serving {ModelVersion}", _current.ModelVersion);
                return _current;
            }
            var now = time.GetUtcNow();
            _checkedAt = now;
            if (active is null) return _current;
            if (active.Version == _current?.ModelVersion)
            {
                // The same version republished with more files (copy codes): the worker and the query
                // side must serve the same ones, so model.json's ETag decides too.
                string? stamp;
                try
                {
                    stamp = await registry.ManifestStampAsync(active.Version, cancellationToken);
                }
                catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    logger.LogWarning(e, "Could not check model.json of {ModelVersion}; still serving the held one", _current.ModelVersion);
                    return _current;
                }
                if (stamp is null || stamp == _currentStamp) Volatile.Write(ref _failure, null);
                if (stamp is null || stamp == _currentStamp || _currentStamp is null) return _current;
                if (_failure is { } same && same.Version == active.Version && now - same.At < options.FailedLoadRetryInterval) return _current;
                logger.LogInformation("model.json of {ModelVersion} changed; loading it again", active.Version);
                return await LoadAsync(active.Version, now, cancellationToken);
            }
            if (_failure is { } failed && failed.Version == active.Version && now - failed.At < options.FailedLoadRetryInterval) return _current;
            return await LoadAsync(active.Version, now, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<LoadedModel?> LoadAsync(string version, DateTimeOffset now, CancellationToken cancellationToken)
    {
        logger.LogInformation("Loading model {ModelVersion}", version);
        LoadedModel? loaded = null;
        double warmUpMs;
        try
        {
            var dir = await registry.DownloadAsync(version, options.CacheDirectory, cancellationToken);
            loaded = LoadedModel.Open(dir, inference);
            if (loaded.ModelVersion != version)
                throw new InvalidDataException($"{Path.Combine(dir, ModelFiles.ModelManifest.FileName)} names version {loaded.ModelVersion}, the registry {version}");
            var warm = System.Diagnostics.Stopwatch.StartNew();
            loaded.WarmUp();
            warmUpMs = warm.Elapsed.TotalMilliseconds;
            // What the host needs before it answers with this version (its index, on a query host); a version that
            // cannot have it is not switched to while another one serves.
            foreach (var preloader in preloaders ?? [])
            {
                try
                {
                    await preloader.PreloadAsync(loaded, cancellationToken);
                }
                catch (Exception e) when (_current is null && (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested))
                {
                    logger.LogWarning(e, "Preparing model {ModelVersion} failed; it serves anyway, as nothing else does", version);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Whatever stops this version (a bad file, a graph that cannot run, storage), the one
            // being served stays, and the reason is kept for GET /api/index and the logs.
            loaded?.Dispose();
            Volatile.Write(ref _failure, new ModelLoadFailure(version, e.Message, now));
            logger.LogError(e, "Model {ModelVersion} cannot be loaded; {Serving}: {Reason}", version,
                _current is null ? "no model is served" : $"still serving {_current.ModelVersion}", e.Message);
            return _current;
        }
        logger.LogInformation("Model {ModelVersion} loaded on {Provider} ({Reason}); first forward pass {WarmUpMs:F1} ms",
            version, loaded.Provider.Name, loaded.Provider.Reason, warmUpMs);
        // The previous model is left to the GC: a query may still be using it.
        _currentStamp = ModelRegistry.StampOf(loaded.Directory);
        Volatile.Write(ref _current, loaded);
        Volatile.Write(ref _failure, null);
        return loaded;
    }

    public void Dispose()
    {
        _current?.Dispose();
        _gate.Dispose();
    }
}
