using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Dpq.Storage;

/// <summary>
/// The three service clients of one storage account, built once and shared (they are thread-safe).
/// Transient faults are retried by the SDK's own pipeline with bounded exponential backoff.
/// </summary>
public sealed class StorageClients
{
    public BlobServiceClient Blobs { get; }
    public QueueServiceClient Queues { get; }
    public TableServiceClient Tables { get; }
    public StorageNames Names { get; }

    private readonly StorageConnection _connection;
    private readonly TokenCredential? _credential;
    private readonly IReadOnlyList<HttpPipelinePolicy> _policies;
    private readonly StorageRetry _retry;

    /// <param name="policies">
    /// Extra pipeline policies, run on every try of every request just before it is sent, inside the try's
    /// network timeout (fault injection in tests: a policy that stalls a request is timed out as a slow link is).
    /// </param>
    /// <param name="retry">The retry budget; <see cref="StorageRetry.Default"/> when null.</param>
    public StorageClients(StorageConnection connection, StorageNames? names = null, IReadOnlyList<HttpPipelinePolicy>? policies = null, StorageRetry? retry = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        _policies = policies ?? [];
        _retry = retry ?? StorageRetry.Default;
        Names = names ?? StorageNames.Default;
        var blobOptions = Configure(new BlobClientOptions());
        // Queue messages are base64 so that the Functions/WebJobs queue trigger reads them as text.
        var queueOptions = Configure(new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        var tableOptions = Configure(new TableClientOptions());
        if (connection.ConnectionString is { } cs)
        {
            Blobs = new BlobServiceClient(cs, blobOptions);
            Queues = new QueueServiceClient(cs, queueOptions);
            Tables = new TableServiceClient(cs, tableOptions);
        }
        else
        {
            var credential = _credential = connection.CreateCredential();
            Blobs = new BlobServiceClient(connection.BlobServiceUri, credential, blobOptions);
            Queues = new QueueServiceClient(connection.QueueServiceUri, credential, queueOptions);
            Tables = new TableServiceClient(connection.TableServiceUri, credential, tableOptions);
        }
    }

    public BlobContainerClient Container(string name) => Blobs.GetBlobContainerClient(name);
    public QueueClient Queue(string name) => Queues.GetQueueClient(name);
    public TableClient Table(string name) => Tables.GetTableClient(name);

    /// <summary>
    /// A client of one queue for a consumer that must not be stopped by one bad message: a received
    /// message that is not valid Base64 is handed to <paramref name="onUndecodable"/> (with the
    /// queue and the raw message) and left out of the receive, instead of failing the whole receive
    /// with a FormatException.
    /// </summary>
    public QueueClient Queue(string name, Func<QueueClient, QueueMessage, CancellationToken, Task> onUndecodable)
    {
        var options = Configure(new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        options.MessageDecodingFailed += async args =>
        {
            if (args.ReceivedMessage is { } message) await onUndecodable(args.Queue, message, args.CancellationToken);
        };
        return _connection.ConnectionString is { } cs
            ? new QueueClient(cs, name, options)
            : new QueueClient(Queues.GetQueueClient(name).Uri, _credential!, options);
    }

    /// <summary>A client of one queue whose messages are read as they are stored (no Base64), for messages other services write (Event Grid).</summary>
    public QueueClient RawQueue(string name)
    {
        var options = Configure(new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None });
        return _connection.ConnectionString is { } cs
            ? new QueueClient(cs, name, options)
            : new QueueClient(Queues.GetQueueClient(name).Uri, _credential!, options);
    }

    /// <summary>
    /// Creates every container, queue and table in <see cref="Names"/> that does not exist yet. An identity that
    /// may only use them (in Azure the deployment creates them, and data roles cannot) is refused with 403: that
    /// resource is skipped, and the names refused are returned.
    /// </summary>
    public async Task<IReadOnlyList<string>> EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        var refused = new List<string>();
        async Task CreateAsync(string name, Func<Task> create)
        {
            try
            {
                await create();
            }
            catch (RequestFailedException e) when (e.Status == 403)
            {
                refused.Add(name);
            }
        }
        foreach (var c in Names.Containers) await CreateAsync(c, () => Container(c).CreateIfNotExistsAsync(cancellationToken: cancellationToken));
        foreach (var q in Names.Queues) await CreateAsync(q, () => Queue(q).CreateIfNotExistsAsync(cancellationToken: cancellationToken));
        foreach (var t in Names.Tables) await CreateAsync(t, () => Table(t).CreateIfNotExistsAsync(cancellationToken));
        return refused;
    }

    private T Configure<T>(T options) where T : ClientOptions
    {
        foreach (var policy in _policies) options.AddPolicy(policy, HttpPipelinePosition.BeforeTransport);
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = _retry.MaxRetries;
        options.Retry.Delay = _retry.Delay;
        options.Retry.MaxDelay = _retry.MaxDelay;
        options.Retry.NetworkTimeout = _retry.NetworkTimeout;
        return options;
    }
}
