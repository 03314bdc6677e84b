using System.Globalization;
using System.Text.Json;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>
/// Asks for a retraining: one train request on the train queue, which the worker's <see cref="RetrainJob"/>
/// takes. The timer's request id is its schedule slot, so a timer that fires twice for the same slot (a
/// host restart, two instances) asks for the same run, and a job already done for it is not run again.
/// </summary>
public sealed class RetrainScheduler(StorageClients storage, TimeProvider time, ILogger<RetrainScheduler> logger)
{
    public Task<string> RequestAsync(DateTime slotUtc, CancellationToken cancellationToken = default) =>
        SendAsync("retrain-" + slotUtc.ToUniversalTime().ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture), "schedule", cancellationToken);

    /// <summary>A request made by hand (<c>./dpq retrain</c>, the admin function); returns its id.</summary>
    public Task<string> RequestNowAsync(string reason, CancellationToken cancellationToken = default) =>
        SendAsync("retrain-" + time.GetUtcNow().ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8], reason, cancellationToken);

    private async Task<string> SendAsync(string requestId, string reason, CancellationToken cancellationToken)
    {
        var message = JsonSerializer.Serialize(new { requestId, requestedAt = time.GetUtcNow(), reason });
        await storage.Queue(storage.Names.TrainQueue).SendMessageAsync(message, cancellationToken);
        logger.LogInformation("Retraining requested as {RequestId} ({Reason})", requestId, reason);
        return requestId;
    }
}
