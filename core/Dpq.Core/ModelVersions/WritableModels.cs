using Dpq.Ingest;
using Dpq.ModelFiles;
using Dpq.Onnx;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>
/// The models the worker writes codes for: the active one (<see cref="ActiveModelCache"/>) first, then every
/// version being built, so that uploads during a backfill reach both. The building versions are looked up
/// at most every <see cref="ModelCacheOptions.RefreshInterval"/>; each is downloaded and loaded once. One that
/// cannot be loaded is left out (and tried again after <see cref="ModelCacheOptions.FailedLoadRetryInterval"/>):
/// the backfill then does not finish, which its progress shows.
/// </summary>
public sealed class WritableModels(ActiveModelCache active, VersionRecords records, ModelRegistry registry, ModelCacheOptions options,
    InferenceOptions inference, TimeProvider time, ILogger<WritableModels> logger) : IEncoderProvider
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, LoadedModel> _building = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _failedAt = new(StringComparer.Ordinal);
    private IReadOnlyList<LoadedModel> _current = [];
    private DateTimeOffset _checkedAt = DateTimeOffset.MinValue;

    public async Task<IReadOnlyList<IImageEncoder>> GetEncodersAsync(CancellationToken cancellationToken = default)
    {
        if (await active.GetAsync(cancellationToken) is not { } served) return [];
        var building = await BuildingAsync(cancellationToken);
        return [served, .. building.Where(b => b.ModelVersion != served.ModelVersion)];
    }

    private async Task<IReadOnlyList<LoadedModel>> BuildingAsync(CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() - _checkedAt < options.RefreshInterval) return Volatile.Read(ref _current);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (time.GetUtcNow() - _checkedAt < options.RefreshInterval) return _current;
            IReadOnlyList<VersionRecord> all;
            try
            {
                all = await records.ListAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Could not read the version records; writing for the versions known before");
                _checkedAt = time.GetUtcNow();
                return _current;
            }
            var wanted = all.Where(r => r.State == VersionState.Building).Select(r => r.Version).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _building.Keys.Where(v => !wanted.Contains(v)).ToList()) _building.Remove(gone); // left to the GC: a batch may hold it
            foreach (var version in wanted.Where(v => !_building.ContainsKey(v)))
            {
                if (_failedAt.TryGetValue(version, out var at) && time.GetUtcNow() - at < options.FailedLoadRetryInterval) continue;
                try
                {
                    var dir = await registry.DownloadAsync(version, options.CacheDirectory, cancellationToken);
                    var model = LoadedModel.Open(dir, inference);
                    model.WarmUp();
                    _building[version] = model;
                    _failedAt.Remove(version);
                    logger.LogInformation("Model {ModelVersion} is being built: the worker writes its codes too", version);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    _failedAt[version] = time.GetUtcNow();
                    logger.LogError(e, "Model {ModelVersion} is being built but cannot be loaded: {Reason}", version, e.Message);
                }
            }
            _checkedAt = time.GetUtcNow();
            Volatile.Write(ref _current, [.. _building.Values]);
            return _current;
        }
        finally
        {
            _gate.Release();
        }
    }
}
