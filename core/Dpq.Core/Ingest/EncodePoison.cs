using Dpq.Indexing;
using Dpq.Storage;

namespace Dpq.Ingest;

/// <summary>
/// Sets work aside that cannot be done now: the message body goes to the encode poison queue as it came (for
/// people to read), and each image it names gets a poison record in the failures table (which the reconciler
/// retries later, see <see cref="FailureRecord.RetryAt"/>).
/// </summary>
public sealed class EncodePoison(StorageClients storage, FailureLog failures, TimeProvider time)
{
    private readonly Azure.Storage.Queues.QueueClient _queue = storage.Queue(storage.Names.EncodePoisonQueue);

    public async Task SendAsync(string body, IEnumerable<EncodeRequest> requests, string reason, CancellationToken cancellationToken = default)
    {
        await _queue.SendMessageAsync(body, cancellationToken);
        foreach (var request in requests.DistinctBy(r => r.BlobName))
            await failures.RecordAsync(new FailureRecord(request.BlobName, FailureStage.Poison, reason, time.GetUtcNow(), request.ETag), cancellationToken);
    }

    /// <summary>One request set aside alone (the rest of its message goes on).</summary>
    public Task SendAsync(EncodeRequest request, string reason, CancellationToken cancellationToken = default) =>
        SendAsync(EncodeMessage.Pack([request]), [request], reason, cancellationToken);
}
