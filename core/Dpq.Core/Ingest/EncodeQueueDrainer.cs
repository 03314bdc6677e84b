using System.Diagnostics;
using Azure;
using Azure.Storage.Queues.Models;
using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>What one drain pass did.</summary>
public sealed record DrainResult(int Received, int Indexed, int Failed, int Retried, bool NoModel)
{
    public static DrainResult Empty { get; } = new(0, 0, 0, 0, false);
}

/// <summary>
/// One pass over the encode queue: collect up to a batch of messages (waiting at most MaxWait once
/// the first has arrived), send messages that failed too often or cannot be parsed to the poison
/// queue, encode the rest, and delete exactly the messages whose work is stored. A message whose
/// work failed is left alone: it reappears after its visibility timeout.
/// </summary>
public sealed class EncodeQueueDrainer(StorageClients storage, IEncoderProvider encoders, EncodeBatchProcessor processor,
    EncodeWorkerOptions options, TimeProvider time, ILogger<EncodeQueueDrainer> logger)
{
    private const int MaxMessagesPerReceive = 32; // the Queue service's limit

    public async Task<DrainResult> DrainOnceAsync(CancellationToken cancellationToken = default)
    {
        var encoder = await encoders.GetEncoderAsync(cancellationToken);
        if (encoder is null) return DrainResult.Empty with { NoModel = true };

        var queue = storage.Queue(storage.Names.EncodeQueue);
        var messages = new List<QueueMessage>();
        var clock = Stopwatch.StartNew();
        while (messages.Count < options.BatchSize)
        {
            var want = Math.Min(MaxMessagesPerReceive, options.BatchSize - messages.Count);
            QueueMessage[] received = await queue.ReceiveMessagesAsync(want, options.VisibilityTimeout, cancellationToken);
            messages.AddRange(received);
            if (messages.Count == 0) return DrainResult.Empty;
            if (received.Length == 0)
            {
                if (clock.Elapsed >= options.MaxWait) break;
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
            }
            else if (clock.Elapsed >= options.MaxWait) break;
        }

        var work = new List<(EncodeRequest Request, QueueMessage Message)>();
        var failed = 0;
        foreach (var message in messages)
        {
            EncodeRequest request;
            try
            {
                request = EncodeRequest.Parse(message.Body.ToString());
            }
            catch (FormatException e)
            {
                logger.LogError("Message {MessageId} is malformed and goes to the poison queue: {Reason}", message.MessageId, e.Message);
                await PoisonAsync(message, null, e.Message, cancellationToken);
                failed++;
                continue;
            }
            if (message.DequeueCount > options.MaxDequeueCount)
            {
                var reason = $"encoding failed {message.DequeueCount - 1} times";
                logger.LogError("Image {BlobName}: {Reason}; message goes to the poison queue", request.BlobName, reason);
                await PoisonAsync(message, request.BlobName, reason, cancellationToken);
                failed++;
                continue;
            }
            work.Add((request, message));
        }

        // A duplicate delivery in the same batch is encoded once; all its messages are deleted with it.
        var outcome = await processor.ProcessAsync(work.Select(w => w.Request).DistinctBy(r => r.RequestId).ToList(), encoder, cancellationToken);
        var doneIds = outcome.Done.Select(r => r.RequestId).ToHashSet();
        // The Queue service deletes one message per call: issue them concurrently, not one by one.
        await Parallel.ForEachAsync(work.Where(w => doneIds.Contains(w.Request.RequestId)),
            new ParallelOptions { MaxDegreeOfParallelism = options.DownloadParallelism, CancellationToken = cancellationToken },
            async (w, ct) => await DeleteAsync(w.Message, ct));
        return new DrainResult(messages.Count, outcome.Indexed, outcome.Failed + failed, outcome.Retry.Count, false);
    }

    private async Task PoisonAsync(QueueMessage message, string? blobName, string reason, CancellationToken cancellationToken)
    {
        await storage.Queue(storage.Names.EncodePoisonQueue).SendMessageAsync(message.Body.ToString(), cancellationToken);
        if (blobName is not null)
            await new FailureLog(storage.Table(storage.Names.FailuresTable)).RecordAsync(new FailureRecord(blobName, FailureStage.Poison, reason, time.GetUtcNow()), cancellationToken);
        await DeleteAsync(message, cancellationToken);
    }

    private async Task DeleteAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await storage.Queue(storage.Names.EncodeQueue).DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // Its visibility timeout ran out and another worker holds it now; that worker's write is idempotent.
        }
    }
}
