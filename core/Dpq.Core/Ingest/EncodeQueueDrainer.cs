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
/// queue, encode the rest, and delete exactly the messages whose work is stored. A message whose
/// work failed is left alone (or, if part of it is stored, keeps only the rest): it reappears after
/// its visibility timeout.
/// </summary>
public sealed class EncodeQueueDrainer(StorageClients storage, FailureLog failures, IEncoderProvider encoders, EncodeBatchProcessor processor,
    EncodeWorkerOptions options, TimeProvider time, ILogger<EncodeQueueDrainer> logger)
{
    private const int MaxMessagesPerReceive = 32; // the Queue service's limit

    private Azure.Storage.Queues.QueueClient? _queueClient;
    private Azure.Storage.Queues.QueueClient _queue => _queueClient ??= storage.Queue(storage.Names.EncodeQueue, PoisonUndecodableAsync);

    public async Task<DrainResult> DrainOnceAsync(CancellationToken cancellationToken = default)
    {
        var writable = await encoders.GetEncodersAsync(cancellationToken);
        if (writable.Count == 0) return DrainResult.Empty with { NoModel = true };

        var received = 0;
        var work = new List<(IReadOnlyList<EncodeRequest> Requests, QueueMessage Message)>();
        var requests = 0;
        var failed = 0;
        var clock = Stopwatch.StartNew();
        // BatchSize counts requests: a bulk import's message carries many.
        while (requests < options.BatchSize)
        {
            var want = Math.Min(MaxMessagesPerReceive, Math.Max(1, options.BatchSize - requests));
            QueueMessage[] messages = await _queue.ReceiveMessagesAsync(want, options.VisibilityTimeout, cancellationToken);
            received += messages.Length;
            foreach (var message in messages)
            {
                var (accepted, poisoned) = await AcceptAsync(message, cancellationToken);
                failed += poisoned;
                if (accepted is null) continue;
                work.Add((accepted, message));
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
        int indexed = 0, retried = 0, removed = 0;
        foreach (var slice in distinct.Chunk(options.BatchSize))
        {
            var outcome = await processor.ProcessAsync(slice, writable, cancellationToken);
            doneIds.UnionWith(outcome.Done.Select(r => r.RequestId));
            indexed += outcome.Indexed;
            failed += outcome.Failed;
            retried += outcome.Retry.Count;
            removed += outcome.Removed;
        }
        // A message goes only when every request it carries is done; one partly done shrinks to the
        // rest, so what is stored is not redone and a later poison names only what failed. The Queue
        // service takes one message per call: issue them concurrently, not one by one.
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = options.DownloadParallelism, CancellationToken = cancellationToken },
            async (w, ct) =>
            {
                var rest = w.Requests.Where(r => !doneIds.Contains(r.RequestId)).ToList();
                if (rest.Count == 0) await DeleteAsync(w.Message, ct);
                else if (rest.Count < w.Requests.Count) await ShrinkAsync(w.Message, rest, ct);
            });
        return new DrainResult(received, indexed, failed, retried, false, removed);
    }

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
            await PoisonAsync(message, requests.Select(r => r.BlobName), reason, cancellationToken);
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
        await storage.Queue(storage.Names.EncodePoisonQueue).SendMessageAsync(message.Body.ToString(), cancellationToken);
        try
        {
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
        }
        catch (RequestFailedException e) when (IsLostLease(e))
        {
            // Someone else received it meanwhile and will poison it too; a second poison copy is harmless.
        }
    }

    private async Task PoisonAsync(QueueMessage message, IEnumerable<string> blobNames, string reason, CancellationToken cancellationToken)
    {
        await storage.Queue(storage.Names.EncodePoisonQueue).SendMessageAsync(message.Body.ToString(), cancellationToken);
        foreach (var blobName in blobNames)
            await failures.RecordAsync(new FailureRecord(blobName, FailureStage.Poison, reason, time.GetUtcNow()), cancellationToken);
        await DeleteAsync(message, cancellationToken);
    }

    private async Task ShrinkAsync(QueueMessage message, IReadOnlyList<EncodeRequest> rest, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.UpdateMessageAsync(message.MessageId, message.PopReceipt,
                EncodeMessage.Pack(rest), options.VisibilityTimeout, cancellationToken);
        }
        catch (RequestFailedException e) when (IsLostLease(e))
        {
            // As for a delete: another worker holds it now, and redoing the stored part is harmless.
        }
    }

    private async Task DeleteAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
        }
        catch (RequestFailedException e) when (IsLostLease(e))
        {
            // Its visibility timeout ran out and another worker holds it now; that worker's write is idempotent.
        }
    }

    /// <summary>
    /// The message is no longer ours: it is gone (404), or its visibility timeout ran out and another
    /// receive gave it a new pop receipt (404 in Azure; Azurite answers 400 PopReceiptMismatch).
    /// </summary>
    internal static bool IsLostLease(RequestFailedException e) =>
        e.Status == 404 || (e.Status == 400 && e.ErrorCode == "PopReceiptMismatch");
}
