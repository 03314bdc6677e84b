using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;

namespace Dpq.Ingest;

/// <summary>
/// Keeps received messages invisible while a pass works on them: every third of the visibility timeout it
/// extends each one's visibility, which gives it a new pop receipt. A message whose extension finds it taken
/// (its timeout ran out first, and another receive holds it) is lost to this pass: it is neither deleted nor
/// updated at the end. Renewal stops before the pass settles its messages, so the receipts read then are the
/// latest.
/// </summary>
public sealed class MessageLeases : IAsyncDisposable
{
    private readonly QueueClient _queue;
    private readonly TimeSpan _visibility;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, string?> _receipts = new(StringComparer.Ordinal); // message id -> pop receipt, null once lost
    private readonly CancellationTokenSource _stop = new();
    private Task? _renewing;

    public MessageLeases(QueueClient queue, TimeSpan visibility, TimeProvider time, ILogger logger)
    {
        (_queue, _visibility, _time, _logger) = (queue, visibility, time, logger);
    }

    /// <summary>Renewals made (all messages, all rounds).</summary>
    public int Renewed { get; private set; }

    public void Add(QueueMessage message)
    {
        lock (_receipts) _receipts[message.MessageId] = message.PopReceipt;
        _renewing ??= RenewLoopAsync(_stop.Token);
    }

    /// <summary>The message's current pop receipt; null when another receiver holds it now.</summary>
    public string? ReceiptOf(string messageId)
    {
        lock (_receipts) return _receipts.GetValueOrDefault(messageId);
    }

    /// <summary>Marks the message as no longer ours (it was found taken when settling it).</summary>
    public void Lose(string messageId)
    {
        lock (_receipts) _receipts[messageId] = null;
    }

    /// <summary>Stops renewing and waits for a renewal in flight.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_renewing is { } renewing)
        {
            try
            {
                await renewing;
            }
            catch (OperationCanceledException)
            {
                // Stopped, as asked.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RenewLoopAsync(CancellationToken stop)
    {
        var period = _visibility / 3;
        while (true)
        {
            await Task.Delay(period, _time, stop);
            List<KeyValuePair<string, string?>> held;
            lock (_receipts) held = [.. _receipts.Where(r => r.Value is not null)];
            foreach (var (id, receipt) in held)
            {
                try
                {
                    var updated = await _queue.UpdateMessageAsync(id, receipt, visibilityTimeout: _visibility, cancellationToken: stop);
                    lock (_receipts) _receipts[id] = updated.Value.PopReceipt;
                    Renewed++;
                }
                catch (RequestFailedException e) when (EncodeQueueDrainer.IsLostLease(e))
                {
                    _logger.LogWarning("Message {MessageId} was taken by another receiver before its visibility was renewed", id);
                    Lose(id);
                }
                catch (Exception e) when (e is RequestFailedException or AggregateException or IOException)
                {
                    // Tried again next round; if the timeout runs out meanwhile, the message is redone elsewhere (idempotent).
                    _logger.LogWarning(e, "Renewing the visibility of message {MessageId} failed", id);
                }
            }
        }
    }
}
