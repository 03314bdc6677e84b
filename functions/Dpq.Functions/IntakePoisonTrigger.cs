using Dpq.Ingest;
using Microsoft.Azure.Functions.Worker;

namespace Dpq.Functions;

/// <summary>
/// The host moves a blob trigger that failed five times to "webjobs-blobtrigger-poison"; this records
/// such an upload in the failures table, so no image disappears without a reason on file.
/// </summary>
public sealed class IntakePoisonTrigger(IntakePoison poison)
{
    [Function(nameof(IntakePoisonTrigger))]
    public Task Run([QueueTrigger(IntakePoison.QueueName, Connection = "DpqStorage")] string message, CancellationToken cancellationToken) =>
        poison.RecordAsync(message, cancellationToken);
}
