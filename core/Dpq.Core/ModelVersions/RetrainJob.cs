using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Queues.Models;
using Dpq.Formats;
using Dpq.Ingest;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>Where a retraining job is: training, filling the new version's index, settling after the switch, done.</summary>
public enum RetrainStage { Training, Backfilling, Settling, Done }

/// <summary>
/// The one retraining job's state, kept in "_jobs/retrain.json" of the models container, so that a worker
/// that takes the job over after a kill goes on where it stopped. Version: the model it made (once published).
/// Progress: the latest line of progress. Outcome: how it ended.
/// </summary>
public sealed record RetrainJobState(string RequestId, RetrainStage Stage, DateTimeOffset StartedAt)
{
    public string? Version { get; init; }
    public string? Progress { get; init; }
    public string? Outcome { get; init; }
    public int Attempts { get; init; }
    public long Images { get; init; }
    public long Covered { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What one call of <see cref="RetrainJob.RunOnceAsync"/> found to do.</summary>
public enum RetrainRun { Idle, Busy, Finished }

/// <summary>
/// Retraining as a job of the worker: one at a time across all workers (a blob lease on "_jobs/retrain.lock",
/// renewed while the job runs; a worker that cannot take it leaves the job to the holder), resumable after a
/// kill (its stage is stored after each step; the request's message is deleted only at the end). A job takes a
/// train request from the train queue, trains on
/// the labelled images in storage (<see cref="IModelTrainer"/>), publishes the model, records it as
/// building, backfills its index (<see cref="Backfill"/>) until it covers every image, then switches it in
/// or rejects it (<see cref="VersionSwitch"/>), lets hosts catch up, marks it ready and applies retention.
/// </summary>
public sealed class RetrainJob(StorageClients storage, ModelRegistry registry, VersionRecords records, IModelTrainer trainer, Backfill backfill,
    VersionSwitch versionSwitch, VersionRetention retention, LifecycleOptions options, Ingest.EncodeWorkerOptions encodeOptions, TimeProvider time,
    ILogger<RetrainJob> logger)
{
    public const string StateBlob = "_jobs/retrain.json";
    /// <summary>Where each finished job's last state is kept, by request id: what <c>--wait</c> reads, and how a request carried out already is known.</summary>
    public const string DonePrefix = "_jobs/done/";
    public const string LockBlob = "_jobs/retrain.lock";

    /// <summary>How long the request's message stays invisible between renewals: a job whose worker died shows up again after it.</summary>
    public static readonly TimeSpan MessageHold = TimeSpan.FromMinutes(5);

    private BlobContainerClient Models => storage.Container(storage.Names.ModelsContainer);

    /// <summary>The train request being carried out, held invisible while the job runs and deleted when it is done.</summary>
    private sealed class HeldRequest(string messageId, string popReceipt)
    {
        public string MessageId { get; } = messageId;
        public string PopReceipt { get; set; } = popReceipt;
    }

    private HeldRequest? _request;

    /// <summary>The job's state; null when no job ever ran.</summary>
    public static async Task<(RetrainJobState State, ETag ETag)?> ReadStateAsync(BlobContainerClient models, CancellationToken cancellationToken = default)
    {
        try
        {
            var download = await models.GetBlobClient(StateBlob).DownloadContentAsync(cancellationToken);
            var state = JsonSerializer.Deserialize(download.Value.Content.ToMemory().Span, LifecycleJson.Default.RetrainJobState)
                ?? throw new InvalidDataException($"{StateBlob} is empty");
            return (state, download.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The state of the job of <paramref name="requestId"/>: its final one once done, else the current job's if it is that one; null otherwise.</summary>
    public static async Task<RetrainJobState?> ReadStateAsync(BlobContainerClient models, string requestId, CancellationToken cancellationToken = default)
    {
        try
        {
            var done = await models.GetBlobClient(DoneBlob(requestId)).DownloadContentAsync(cancellationToken);
            return JsonSerializer.Deserialize(done.Value.Content.ToMemory().Span, LifecycleJson.Default.RetrainJobState);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return await ReadStateAsync(models, cancellationToken) is { } current && current.State.RequestId == requestId ? current.State : null;
        }
    }

    private static string DoneBlob(string requestId) =>
        DonePrefix + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(requestId)))[..32] + ".json";

    /// <summary>Runs the current job to its end, or starts one for the next train request; Busy when another worker holds the job.</summary>
    public async Task<RetrainRun> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var lockBlob = Models.GetBlobClient(LockBlob);
        try
        {
            await lockBlob.UploadAsync(BinaryData.Empty, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            // It exists: the lock is its lease, not the blob.
        }
        var lease = lockBlob.GetBlobLeaseClient();
        try
        {
            await lease.AcquireAsync(options.LeaseDuration, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            return RetrainRun.Busy;
        }
        using var held = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _request = null;
        var renewing = RenewAsync(lease, held);
        try
        {
            return await RunHeldAsync(held.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError("The retraining job lost its lease; another worker goes on from its last stored stage");
            return RetrainRun.Busy;
        }
        finally
        {
            await held.CancelAsync();
            await renewing;
            try
            {
                await lease.ReleaseAsync(cancellationToken: CancellationToken.None);
            }
            catch (RequestFailedException)
            {
                // Lost or expired already: the next holder takes it.
            }
        }
    }

    private async Task RenewAsync(BlobLeaseClient lease, CancellationTokenSource held)
    {
        try
        {
            while (true)
            {
                await Task.Delay(options.LeaseDuration / 3, time, held.Token);
                await lease.RenewAsync(cancellationToken: held.Token);
                if (_request is { } request)
                {
                    try
                    {
                        var receipt = await storage.Queue(storage.Names.TrainQueue).UpdateMessageAsync(request.MessageId, request.PopReceipt, visibilityTimeout: MessageHold, cancellationToken: held.Token);
                        request.PopReceipt = receipt.Value.PopReceipt;
                    }
                    catch (Exception e) when (e is RequestFailedException or AggregateException)
                    {
                        // The lease, not the message, keeps the job ours: it goes on; the message shows again and is dropped as done.
                        logger.LogWarning(e, "Keeping the train request's message hidden failed; the job goes on");
                        _request = null;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The job is over.
        }
        catch (Exception e)
        {
            logger.LogError(e, "Renewing the retraining lease failed; the job stops");
            await held.CancelAsync();
        }
    }

    private async Task<RetrainRun> RunHeldAsync(CancellationToken cancellationToken)
    {
        var current = await ReadStateAsync(Models, cancellationToken);
        RetrainJobState state;
        if (current is { State.Stage: not RetrainStage.Done } unfinished)
        {
            state = unfinished.State;
            logger.LogInformation("Retraining job {RequestId} goes on at stage {Stage}", state.RequestId, state.Stage);
        }
        else
        {
            if (await TakeRequestAsync(cancellationToken) is not { } requestId) return RetrainRun.Idle;
            state = new RetrainJobState(requestId, RetrainStage.Training, time.GetUtcNow()) { Progress = "starting" };
            await SaveAsync(state, cancellationToken);
            logger.LogInformation("Retraining job {RequestId} started", requestId);
        }
        while (state.Stage != RetrainStage.Done)
        {
            var next = state.Stage switch
            {
                RetrainStage.Training => await TrainAsync(state, cancellationToken),
                RetrainStage.Backfilling => await BackfillAsync(state, cancellationToken),
                RetrainStage.Settling => await SettleAsync(state, cancellationToken),
                _ => throw new InvalidDataException($"unknown stage {state.Stage}"),
            };
            // The outcome by request id first: a worker stopped between the two still knows the request is carried out.
            if (next.Stage == RetrainStage.Done) await Models.GetBlobClient(DoneBlob(next.RequestId)).UploadAsync(Serialize(next), overwrite: true, cancellationToken);
            await SaveAsync(next, cancellationToken);
            state = next;
        }
        logger.LogInformation("Retraining job {RequestId} done: {Outcome}", state.RequestId, state.Outcome);
        if (_request is { } done)
        {
            try
            {
                await storage.Queue(storage.Names.TrainQueue).DeleteMessageAsync(done.MessageId, done.PopReceipt, cancellationToken);
            }
            catch (RequestFailedException e) when (Ingest.EncodeQueueDrainer.IsLostLease(e))
            {
                // Shown again meanwhile: whoever takes it finds this job done and drops it.
            }
        }
        return RetrainRun.Finished;
    }

    /// <summary>
    /// The next train request's id; null when there is none. Its message stays invisible while the job runs (renewed
    /// with the lease) and is deleted when the job is done, so a job whose worker died without a successor shows up
    /// again and is carried on. A request carried out already (a timer that fired twice for one slot, or the message
    /// of a job that another worker finished) is dropped.
    /// </summary>
    private async Task<string?> TakeRequestAsync(CancellationToken cancellationToken)
    {
        var queue = storage.Queue(storage.Names.TrainQueue);
        while (true)
        {
            QueueMessage[] messages = await queue.ReceiveMessagesAsync(1, MessageHold, cancellationToken);
            if (messages.Length == 0) return null;
            if (await AcceptAsync(queue, messages[0], cancellationToken) is { } requestId) return requestId;
        }
    }

    /// <summary>The request's id, its message held; null when it was carried out already (its message deleted).</summary>
    private async Task<string?> AcceptAsync(Azure.Storage.Queues.QueueClient queue, QueueMessage message, CancellationToken cancellationToken)
    {
        string requestId;
        try
        {
            using var doc = JsonDocument.Parse(message.Body.ToString());
            requestId = doc.RootElement.TryGetProperty("requestId", out var id) && id.GetString() is { Length: > 0 } s ? s : message.MessageId;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            requestId = message.MessageId; // any message asks for a retraining: its body only names it
        }
        if (await Models.GetBlobClient(DoneBlob(requestId)).ExistsAsync(cancellationToken))
        {
            logger.LogInformation("Train request {RequestId} was carried out already; dropped", requestId);
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            return null;
        }
        _request = new HeldRequest(message.MessageId, message.PopReceipt);
        return requestId;
    }

    private async Task<RetrainJobState> TrainAsync(RetrainJobState state, CancellationToken cancellationToken)
    {
        if (state.Version is { } published) return await RecordBuildingAsync(state, published, cancellationToken); // killed after publishing
        if (state.Attempts >= options.MaxTrainingAttempts)
            return state with { Stage = RetrainStage.Done, Outcome = $"failed: training was started {state.Attempts} times and never finished" };
        state = state with { Attempts = state.Attempts + 1, Progress = "training" };
        await SaveAsync(state, cancellationToken);
        var output = Path.Combine(options.WorkDirectory, state.RequestId.Replace('/', '-') + "-" + state.Attempts);
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        string folder;
        try
        {
            var progress = new ThrottledProgress(line => _ = SaveProgressAsync(state.RequestId, line), time);
            folder = await trainer.TrainAsync(output, Seed(state.RequestId), progress, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or ArgumentException)
        {
            logger.LogError(e, "Retraining job {RequestId}: training failed", state.RequestId);
            return state with { Stage = RetrainStage.Done, Outcome = $"failed: {e.Message}" };
        }
        var version = await registry.PublishAsync(folder, cancellationToken);
        state = state with { Version = version, Progress = $"published {version}" };
        await SaveAsync(state, cancellationToken);
        Directory.Delete(output, recursive: true);
        return await RecordBuildingAsync(state, version, cancellationToken);
    }

    private async Task<RetrainJobState> RecordBuildingAsync(RetrainJobState state, string version, CancellationToken cancellationToken)
    {
        var manifest = await registry.ReadManifestAsync(version, cancellationToken) ?? throw new InvalidDataException($"model {version} is not published");
        var heldOut = manifest.HeldOutMap();
        await records.CreateAsync(new VersionRecord(version, VersionState.Building, time.GetUtcNow())
        {
            RequestId = state.RequestId,
            BasedOn = (await registry.GetActiveAsync(cancellationToken))?.Version,
            HeldOutMap = heldOut,
        }, cancellationToken);
        logger.LogInformation("Model {ModelVersion} is building; held-out mAP {Map}", version, string.Join(", ", heldOut.Select(kv => $"{kv.Key} bits {kv.Value:F4}")));
        return state with { Stage = RetrainStage.Backfilling, Progress = "backfilling" };
    }

    private async Task<RetrainJobState> BackfillAsync(RetrainJobState state, CancellationToken cancellationToken)
    {
        var version = state.Version ?? throw new InvalidDataException("a backfilling job names no version");
        var manifest = await registry.ReadManifestAsync(version, cancellationToken) ?? throw new InvalidDataException($"model {version} is not published");
        var format = new CodeFormat(manifest.K, manifest.M);
        var created = (await records.GetAsync(version, cancellationToken))?.CreatedAt ?? state.StartedAt;
        while (true)
        {
            var progress = await backfill.RunOnceAsync(version, format, encodeOptions.ShardCount, created + options.SwitchGrace, cancellationToken);
            await records.UpdateAsync(version, r => r with { Images = progress.Images, Covered = progress.Covered }, cancellationToken);
            state = state with { Images = progress.Images, Covered = progress.Covered, Progress = $"backfill {progress.Covered}/{progress.Images}" };
            if (progress.IsCovered) break;
            await SaveAsync(state, cancellationToken);
            await Task.Delay(options.CheckInterval, time, cancellationToken);
        }
        await records.UpdateAsync(version, r => r with { CoveredAt = time.GetUtcNow() }, cancellationToken);
        var (outcome, reason) = await versionSwitch.SwitchAsync(version, cancellationToken);
        return outcome switch
        {
            SwitchOutcome.Activated => state with { Stage = RetrainStage.Settling, Progress = "activated", Outcome = $"activated {version}" },
            SwitchOutcome.Rejected => state with { Stage = RetrainStage.Done, Outcome = $"rejected {version}: {reason}" },
            _ => state with { Progress = $"switch: {reason}; trying again" }, // still backfilling: the next round switches
        };
    }

    /// <summary>Waits out <see cref="LifecycleOptions.SwitchGrace"/> (hosts that have not seen the flip still write to it as a building version), then marks it ready.</summary>
    private async Task<RetrainJobState> SettleAsync(RetrainJobState state, CancellationToken cancellationToken)
    {
        var version = state.Version!;
        var record = await records.GetAsync(version, cancellationToken);
        var wait = (record?.ActivatedAt ?? time.GetUtcNow()) + options.SwitchGrace - time.GetUtcNow();
        if (wait > TimeSpan.Zero) await Task.Delay(wait, time, cancellationToken);
        await records.UpdateAsync(version, r => r with { State = VersionState.Ready }, cancellationToken);
        var retired = await retention.ApplyAsync(cancellationToken);
        return state with { Stage = RetrainStage.Done, Progress = "done", Outcome = state.Outcome + (retired.Count > 0 ? $"; retired {string.Join(", ", retired)}" : "") };
    }

    private static int Seed(string requestId) => (int)(System.IO.Hashing.XxHash32.HashToUInt32(System.Text.Encoding.UTF8.GetBytes(requestId)) & 0x7FFFFFFF);

    private async Task SaveProgressAsync(string requestId, string line)
    {
        try
        {
            // Only onto the training stage it belongs to: a stage stored since wins (the write is conditional on what was read).
            if (await ReadStateAsync(Models, CancellationToken.None) is { } current && current.State.RequestId == requestId && current.State.Stage == RetrainStage.Training)
                await Models.GetBlobClient(StateBlob).UploadAsync(Serialize(current.State with { Progress = line }),
                    new BlobUploadOptions { Conditions = new BlobRequestConditions { IfMatch = current.ETag } }, CancellationToken.None);
        }
        catch (RequestFailedException e)
        {
            logger.LogDebug(e, "Progress of {RequestId} not stored", requestId); // the next line is
        }
    }

    /// <summary>Stores <paramref name="state"/>: the lease makes this worker the only one that writes stages.</summary>
    private Task SaveAsync(RetrainJobState state, CancellationToken cancellationToken) =>
        Models.GetBlobClient(StateBlob).UploadAsync(Serialize(state), overwrite: true, cancellationToken);

    private BinaryData Serialize(RetrainJobState state) =>
        BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(state with { UpdatedAt = time.GetUtcNow() }, LifecycleJson.Default.RetrainJobState));

    /// <summary>Passes on at most one progress line every 2 seconds, and every last line of a phase.</summary>
    private sealed class ThrottledProgress(Action<string> report, TimeProvider time) : IProgress<string>
    {
        private DateTimeOffset _last = DateTimeOffset.MinValue;

        public void Report(string value)
        {
            var now = time.GetUtcNow();
            if (now - _last < TimeSpan.FromSeconds(2)) return;
            _last = now;
            report(value);
        }
    }
}
