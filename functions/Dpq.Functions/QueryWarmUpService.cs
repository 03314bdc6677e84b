using Dpq.Query;
using Microsoft.Extensions.Hosting;

namespace Dpq.Functions;

/// <summary>Loads the model and the index as the host starts, so the first query does not wait for them.</summary>
public sealed class QueryWarmUpService(QueryWarmUp warmUp, QueryOptions options) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => options.WarmUp ? warmUp.RunAsync(stoppingToken) : Task.CompletedTask;
}
