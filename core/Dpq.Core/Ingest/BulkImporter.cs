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
/// If an import stops between an upload and its message, the reconciler finds the blob unindexed
/// and sends it through intake.
/// </summary>
public static class BulkImporter
{
    public static async Task<IReadOnlyList<UploadedBlob>> ImportAsync(StorageClients storage, ImageSet images, IReadOnlyList<int> indices,
        Func<int, string> blobName, int parallelism, IProgress<UploadProgress>? progress, TimeProvider time,
        int requestsPerMessage = 64, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(requestsPerMessage, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(requestsPerMessage, EncodeMessage.MaxRequests);
        var queue = storage.Queue(storage.Names.EncodeQueue);
        var requests = Channel.CreateUnbounded<EncodeRequest>(new UnboundedChannelOptions { SingleReader = true });

        // Messages leave while uploads go on, so the worker starts on the first ones at once.
        var sender = Task.Run(async () =>
        {
            var batch = new List<EncodeRequest>(requestsPerMessage);
            await foreach (var request in requests.Reader.ReadAllAsync(cancellationToken))
            {
                batch.Add(request);
                if (batch.Count < requestsPerMessage) continue;
                await queue.SendMessageAsync(EncodeMessage.Pack(batch), cancellationToken);
                batch.Clear();
            }
            if (batch.Count > 0) await queue.SendMessageAsync(EncodeMessage.Pack(batch), cancellationToken);
        }, cancellationToken);

        IReadOnlyList<UploadedBlob> uploaded;
        try
        {
            uploaded = await BulkUploader.UploadAsync(storage.Container(storage.Names.ImportsContainer), images, indices, blobName, parallelism, progress,
                (blob, ct) => requests.Writer.WriteAsync(EncodeRequest.For(ImageLocation.ForImport(blob.Name), blob.ETag, blob.Length, time.GetUtcNow()), ct),
                cancellationToken);
        }
        finally
        {
            requests.Writer.Complete();
        }
        await sender;
        return uploaded;
    }
}
