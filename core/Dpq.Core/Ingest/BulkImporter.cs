using System.Threading.Channels;
using Dpq.Data;
using Dpq.Indexing;
using Dpq.Storage;

namespace Dpq.Ingest;

/// <summary>
/// The bulk path into the index: uploads images into the imports container, which no trigger
/// watches, and enqueues their encode requests itself, many per queue message. Per image this saves
/// the trigger's own storage calls (its internal queue message, receipt reads and writes) and a
/// queue message of its own; the worker, the rows and the queries are the same as for uploads.
/// Messages leave while uploads go on: when full (request count or size), or when no upload has
/// come for <see cref="FlushAfter"/>. If an import stops between an upload and its message, the
/// reconciler finds the blob unindexed and sends it through intake.
/// </summary>
public static class BulkImporter
{
    /// <summary>Longest time a partly filled message waits for more uploads.</summary>
    public static readonly TimeSpan FlushAfter = TimeSpan.FromSeconds(1);

    public static Task<IReadOnlyList<UploadedBlob>> ImportAsync(StorageClients storage, ImageSet images, IReadOnlyList<int> indices,
        Func<int, string> blobName, int parallelism, IProgress<UploadProgress>? progress, TimeProvider time,
        int requestsPerMessage = 64, CancellationToken cancellationToken = default) =>
        ImportAsync(storage, BulkUploader.Items(images, indices, blobName), parallelism, progress, time, requestsPerMessage, cancellationToken);

    /// <summary>Uploads <paramref name="items"/> into the imports container (skipping names stored there already) and enqueues their encode requests.</summary>
    public static async Task<IReadOnlyList<UploadedBlob>> ImportAsync(StorageClients storage, IReadOnlyList<UploadItem> items,
        int parallelism, IProgress<UploadProgress>? progress, TimeProvider time,
        int requestsPerMessage = 64, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requestsPerMessage, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(requestsPerMessage, EncodeMessage.MaxRequests);
        foreach (var item in items)
        {
            if (UploadPolicy.Default.CheckName(item.Name) is { } problem)
                throw new ArgumentException($"'{item.Name}' cannot be imported: {problem}", nameof(items));
            if (item.Label is { } label && ClassLabel.Check(label) is { } bad)
                throw new ArgumentException($"'{item.Name}' cannot be imported: {bad}", nameof(items));
        }

        // A failed send stops the uploads: their blobs would wait for the reconciler one by one.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var requests = Channel.CreateUnbounded<EncodeRequest>(new UnboundedChannelOptions { SingleReader = true });
        var sender = SendAsync(storage.Queue(storage.Names.EncodeQueue), requests.Reader, requestsPerMessage, time, stop);
        try
        {
            return await BulkUploader.UploadAsync(storage.Container(storage.Names.ImportsContainer), items, parallelism, progress,
                (blob, ct) => requests.Writer.WriteAsync(EncodeRequest.For(ImageLocation.ForImport(blob.Name), blob.ETag, blob.Length, time.GetUtcNow()), ct),
                stop.Token);
        }
        finally
        {
            // Whatever was stored gets its message; a send failure surfaces here (it is why uploads stopped).
            requests.Writer.Complete();
            await sender;
        }
    }

    private static async Task SendAsync(Azure.Storage.Queues.QueueClient queue, ChannelReader<EncodeRequest> requests, int requestsPerMessage,
        TimeProvider time, CancellationTokenSource stop)
    {
        var batch = new List<EncodeRequest>(requestsPerMessage);
        var bytes = EncodeMessage.EmptyBodyBytes;
        async Task FlushAsync()
        {
            if (batch.Count == 0) return;
            await queue.SendMessageAsync(EncodeMessage.Pack(batch), CancellationToken.None);
            batch.Clear();
            bytes = EncodeMessage.EmptyBodyBytes;
        }
        try
        {
            while (true)
            {
                var more = requests.WaitToReadAsync(stop.Token).AsTask();
                if (batch.Count > 0 && await Task.WhenAny(more, Task.Delay(FlushAfter, time, stop.Token)) != more) await FlushAsync();
                if (!await more) break;
                while (requests.TryRead(out var request))
                {
                    var size = EncodeMessage.SizeInBody(request);
                    if (batch.Count == requestsPerMessage || bytes + size > EncodeMessage.MaxBodyBytes) await FlushAsync();
                    batch.Add(request);
                    bytes += size;
                }
            }
            await FlushAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await stop.CancelAsync();
            throw;
        }
    }
}
