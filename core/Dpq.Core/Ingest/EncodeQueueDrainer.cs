using System.Diagnostics;
using Azure;
using Azure.Storage.Queues.Models;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>What one drain pass did: messages received; images indexed, failed (a malformed message counts as one), left to retry and removed.</summary>
public sealed record DrainResult(int Received, int Indexed, int Failed, int Retried, bool NoModel, int Removed = 0)
{
    public static DrainResult Empty { get; } = new(0, 0, 0, 0, false);
}

/// <summary>
/// One pass over the encode queue: collect up to a batch of requests (waiting at most MaxWait once
/// the first message has arrived), send messages that failed too often or cannot be parsed to the poison
/// queue, encode the rest, and delete exactly the messages whose work is stored. While the pass works, its
/// messages' visibility is renewed (<see cref="MessageLeases"/>), so a slow pass is not redone elsewhere. A
/// request that failed for a reason that may pass (storage faults) is sent again as a new message, delayed
/// with backoff (<see cref="EncodeWorkerOptions.RetryDelay"/>), so an outage of any length never counts towards
/// the poison limit; after <see cref="EncodeWorkerOptions.MaxTransientAttempts"/> it is set aside as poisoned,
/// which the reconciler retries later. Only when even that send fails is the message left to reappear.
/// </summary>
public sealed class EncodeQueueDrainer(StorageClients storage, IEncoderProvider encoders, EncodeBatchProcessor processor, EncodePoison poison,
    EncodeWorkerOptions options, Telemetry.DpqMetrics metrics, TimeProvider time, ILogger<EncodeQueueDrainer> logger)
{
    private const int MaxMessagesPerReceive = 32; // the Queue service's limit

    private Azure.Storage.Queues.QueueClient? _queueClient;
    private Azure.Storage.Queues.QueueClient _queue => _queueClient ??= storage.Queue(storage.Names.EncodeQueue, PoisonUndecodableAsync);

    public async Task<DrainResult> DrainOnceAsync(CancellationToken cancellationToken = default)
    {
        var writable = await encoders.GetEncodersAsync(cancellationToken);
        if (writable.Count == 0) return DrainResult.Empty with { NoModel = true };

        await using var leases = new MessageLeases(_queue, options.VisibilityTimeout, time, logger);
        var received = 0;
        var work = new List<(IReadOnlyList<EncodeRequest> Requests, QueueMessage Message)>();
        var requests = 0;
        var failed = 0;
        var clock = Stopwatch.StartNew();
        // BatchSize counts requests: a bulk import's message carries many.
        while (requests < options.BatchSize)
        {
            var want = Math.Min(MaxMessagesPerReceive, Math.Max(1, options.BatchSize - requests));
            QueueMessage[] messages;
            try
            {
                messages = await _queue.ReceiveMessagesAsync(want, options.VisibilityTimeout, cancellationToken);
            }
            catch (Exception e) when (received > 0 && IsStorageFault(e, cancellationToken))
            {
                // A later receive failed: the messages already held are worked on now, not left to time out.
                logger.LogWarning(e, "Receiving more messages failed; the pass goes on with the {Count} it holds", received);
                break;
            }
            received += messages.Length;
            foreach (var message in messages)
            {
                var (accepted, poisoned) = await AcceptAsync(message, cancellationToken);
                failed += poisoned;
                if (accepted is null) continue;
                leases.Add(message);
                work.Add((accepted, message));
                foreach (var r in accepted) metrics.QueueLag(time.GetUtcNow() - r.EnqueuedAt);
                requests += accepted.Count;
            }
            if (received == 0) return DrainResult.Empty;
            if (clock.Elapsed >= options.MaxWait) break;
            if (messages.Length == 0) await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
        }

        // A duplicate delivery in the same batch is encoded once; all its messages are deleted with it.
        // Bulk messages can carry more than a batch between them: encode at most BatchSize at a time.
        var distinct = work.SelectMany(w => w.Requests).DistinctBy(r => r.RequestId).ToList();
        var doneIds = new HashSet<string>(StringComparer.Ordinal);
        var retry = new List<EncodeRequest>();
        int indexed = 0, removed = 0;
        foreach (var slice in distinct.Chunk(options.BatchSize))
        {
            metrics.Batch(slice.Length);
            using var trace = Telemetry.IndexTrace.Start(slice);
            var outcome = await processor.ProcessAsync(slice, writable, cancellationToken);
            trace.Settle(outcome);
            doneIds.UnionWith(outcome.Done.Select(r => r.RequestId));
            retry.AddRange(outcome.Retry);
            indexed += outcome.Indexed;
            failed += outcome.Failed;
            removed += outcome.Removed;
        }
        // What is to be retried leaves its message as a new, delayed one: settled here as if done.
        var (settled, poisonedNow) = await RetryLaterAsync(retry, cancellationToken);
        doneIds.UnionWith(settled);
        failed += poisonedNow;
        await leases.StopAsync();

        // A message goes only when every request it carries is settled; one partly settled shrinks to the
        // rest, so what is stored is not redone and a later poison names only what failed. The Queue
        // service takes one message per call: issue them concurrently, not one by one.
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = options.DownloadParallelism, CancellationToken = cancellationToken },
            async (w, ct) =>
            {
                if (leases.ReceiptOf(w.Message.MessageId) is not { } receipt) return; // another receiver holds it now
                var rest = w.Requests.Where(r => !doneIds.Contains(r.RequestId)).ToList();
                if (rest.Count == 0) await DeleteAsync(w.Message.MessageId, receipt, ct);
                else if (rest.Count < w.Requests.Count) await ShrinkAsync(w.Message.MessageId, receipt, rest, ct);
            });
        metrics.Outcome(indexed, failed, removed, retry.Count); // failed: refused, poisoned or malformed, as DrainResult counts them
        return new DrainResult(received, indexed, failed, retry.Count, false, removed);
    }

    /// <summary>
    /// Sends <paramref name="retry"/> again, each one attempt further and delayed by its backoff; one out of
    /// attempts is poisoned instead. Returns the request ids settled so (their old messages may go) and how
    /// many were poisoned. A request whose send fails is not settled: its old message reappears.
    /// </summary>
    private async Task<(IReadOnlyCollection<string> Settled, int Poisoned)> RetryLaterAsync(IReadOnlyList<EncodeRequest> retry, CancellationToken cancellationToken)
    {
        var settled = new List<string>();
        var poisoned = 0;
        foreach (var request in retry.Where(r => r.Attempt + 1 >= options.MaxTransientAttempts))
        {
            try
            {
                await poison.SendAsync(request, $"storage kept failing for it over {request.Attempt + 1} attempts", cancellationToken);
                settled.Add(request.RequestId);
                poisoned++;
            }
            catch (Exception e) when (IsStorageFault(e, cancellationToken))
            {
                logger.LogWarning(e, "Setting {BlobName} aside failed; its message will reappear", request.BlobName);
            }
        }
        foreach (var group in retry.Where(r => r.Attempt + 1 < options.MaxTransientAttempts).GroupBy(r => r.Attempt + 1))
        {
            var delay = RetryDelay(group.Key);
            foreach (var batch in EncodeMessage.Batches(group.Select(r => r with { Attempt = group.Key }), EncodeMessage.MaxRequests))
            {
                try
                {
                    await storage.Queue(storage.Names.EncodeQueue).SendMessageAsync(EncodeMessage.Pack(batch), visibilityTimeout: delay, cancellationToken: cancellationToken);
                    settled.AddRange(batch.Select(r => r.RequestId));
                }
                catch (Exception e) when (IsStorageFault(e, cancellationToken))
                {
                    logger.LogWarning(e, "Sending {Count} requests for a retry failed; their messages will reappear", batch.Count);
                }
            }
            logger.LogInformation("{Count} requests will be tried again in {Delay} (attempt {Attempt})", group.Count(), delay, group.Key + 1);
        }
        return (settled, poisoned);
    }

    /// <summary>The wait before try <paramref name="attempt"/> + 1: RetryDelay doubled per attempt, at most MaxRetryDelay.</summary>
    internal TimeSpan RetryDelay(int attempt) =>
        TimeSpan.FromTicks(Math.Min(options.MaxRetryDelay.Ticks, options.RetryDelay.Ticks << Math.Clamp(attempt - 1, 0, 20)));

    /// <summary>The message's requests, or null when it went to the poison queue (malformed, or failed too often), with the images that cost.</summary>
    private async Task<(IReadOnlyList<EncodeRequest>? Requests, int Poisoned)> AcceptAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        IReadOnlyList<EncodeRequest> requests;
        try
        {
            requests = EncodeMessage.Parse(message.Body.ToString());
        }
        catch (FormatException e)
        {
            logger.LogError("Message {MessageId} is malformed and goes to the poison queue: {Reason}", message.MessageId, e.Message);
            await PoisonAsync(message, [], e.Message, cancellationToken);
            return (null, 1);
        }
        if (message.DequeueCount > options.MaxDequeueCount)
        {
            var reason = $"encoding failed {message.DequeueCount - 1} times";
            logger.LogError("Message {MessageId} ({Count} images, first {BlobName}): {Reason}; it goes to the poison queue",
                message.MessageId, requests.Count, requests[0].BlobName, reason);
            await PoisonAsync(message, requests, reason, cancellationToken);
            return (null, requests.Count);
        }
        return (requests, 0);
    }

    /// <summary>
    /// A message that is not even Base64 (no queue trigger or client of ours writes one) goes to the
    /// poison queue alone, as its raw text, and leaves the queue; the messages received with it go on.
    /// </summary>
    private async Task PoisonUndecodableAsync(Azure.Storage.Queues.QueueClient queue, QueueMessage message, CancellationToken cancellationToken)
    {
        logger.LogError("Message {MessageId} is not Base64 and goes to the poison queue", message.MessageId);
        await poison.SendAsync(message.Body.ToString(), [], "not Base64", cancellationToken);
        try
        {
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
        }
        catch (RequestFailedException e) when (IsLostLease(e))
        {
            // Someone else received it meanwhile and will poison it too; a second poison copy is harmless.
        }
    }

    /// <summary>Sets the message aside; when that fails, it stays in the queue and reappears (the others in the pass go on).</summary>
    private async Task PoisonAsync(QueueMessage message, IReadOnlyList<EncodeRequest> requests, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await poison.SendAsync(message.Body.ToString(), requests, reason, cancellationToken);
        }
        catch (Exception e) when (IsStorageFault(e, cancellationToken))
        {
            logger.LogWarning(e, "Setting message {MessageId} aside failed; it will reappear", message.MessageId);
            return;
        }
        await DeleteAsync(message.MessageId, message.PopReceipt, cancellationToken);
    }

    private async Task ShrinkAsync(string messageId, string popReceipt, IReadOnlyList<EncodeRequest> rest, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.UpdateMessageAsync(messageId, popReceipt, EncodeMessage.Pack(rest), options.VisibilityTimeout, cancellationToken);
        }
        catch (RequestFailedException e) when (IsLostLease(e))
        {
            // As for a delete: another worker holds it now, and redoing the stored part is harmless.
        }
        catch (Exception e) when (IsStorageFault(e, cancellationToken))
        {
            // The message reappears after its timeout and its stored work is redone, which is idempotent.
            logger.LogWarning(e, "Settling message {MessageId} failed; it will reappear", messageId);
        }
    }

    private async Task DeleteAsync(string messageId, string popReceipt, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.DeleteMessageAsync(messageId, popReceipt, cancellationToken);
        }
        catch (RequestFailedException e) when (IsLostLease(e))
        {
            // Its visibility timeout ran out and another worker holds it now; that worker's write is idempotent.
        }
        catch (Exception e) when (IsStorageFault(e, cancellationToken))
        {
            // The message reappears after its timeout and its stored work is redone, which is idempotent.
            logger.LogWarning(e, "Settling message {MessageId} failed; it will reappear", messageId);
        }
    }

    /// <summary>
    /// The message is no longer ours: it is gone (404), or its visibility timeout ran out and another
    /// receive gave it a new pop receipt (404 in Azure; Azurite answers 400 PopReceiptMismatch).
    /// </summary>
    internal static bool IsLostLease(RequestFailedException e) =>
        e.Status == 404 || (e.Status == 400 && e.ErrorCode == "PopReceiptMismatch");

    private static bool IsStorageFault(Exception e, CancellationToken cancellationToken) => EncodeBatchProcessor.IsStorageFault(e, cancellationToken);
}
