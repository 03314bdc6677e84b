using Dpq.Formats;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Microsoft.Extensions.Logging;

namespace Dpq.Query;

/// <summary>
/// What a query host does as it starts, before any query asks: loads the active model (download,
/// ONNX Runtime session, one warm-up pass) and its index, so the first query finds both in memory.
/// Failures are logged and left to the first query, which tries again and answers with the reason.
/// </summary>
public sealed class QueryWarmUp(ActiveModelCache models, IndexCache index, ILogger<QueryWarmUp> logger)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var model = await models.GetAsync(cancellationToken);
            if (model is null)
            {
                logger.LogInformation("No model is active yet: nothing to warm up");
                return;
            }
            var snapshot = await index.GetAsync(model.ModelVersion, new CodeFormat(model.Codewords, model.Levels), cancellationToken);
            logger.LogInformation("Query host warm: model {ModelVersion} and {Items} indexed items loaded in {Ms:F0} ms",
                model.ModelVersion, snapshot.Items, clock.Elapsed.TotalMilliseconds);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Warm-up failed after {Ms:F0} ms; the first query will try again", clock.Elapsed.TotalMilliseconds);
        }
    }
}
