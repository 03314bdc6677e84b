using System.Globalization;
using System.Text.Json;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.ModelVersions;

/// <summary>
/// The retraining timer's logic: put one train request on the train queue per schedule slot. The
/// request id is the slot, so a timer that fires twice for the same slot (a host restart, two
/// instances) asks for the same training run and the trainer can recognise the duplicate.
/// </summary>
public sealed class RetrainScheduler(StorageClients storage, TimeProvider time, ILogger<RetrainScheduler> logger)
{
    public async Task RequestAsync(DateTime slotUtc, CancellationToken cancellationToken = default)
    {
        var requestId = "retrain-" + slotUtc.ToUniversalTime().ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture);
        var message = JsonSerializer.Serialize(new { requestId, requestedAt = time.GetUtcNow(), reason = "schedule" });
        await storage.Queue(storage.Names.TrainQueue).SendMessageAsync(message, cancellationToken);
        logger.LogInformation("Retraining requested as {RequestId}", requestId);
    }
}
