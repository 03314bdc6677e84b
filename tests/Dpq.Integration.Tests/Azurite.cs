using Dpq.Storage;

namespace Dpq.Integration.Tests;

/// <summary>
/// The Azurite instance that ./dpq test started. Each caller gets a fresh, uniquely prefixed set of
/// containers, queues and tables, so no test sees another's data or an earlier run's leftovers.
/// </summary>
public static class Azurite
{
    public const string ConnectionVariable = "DPQ_STORAGE_CONNECTION";

    public static StorageConnection Connection
    {
        get
        {
            var cs = Environment.GetEnvironmentVariable(ConnectionVariable);
            if (string.IsNullOrWhiteSpace(cs))
                throw new InvalidOperationException($"{ConnectionVariable} is not set: run the integration tests through ./dpq test, which starts Azurite");
            return StorageConnection.FromConnectionString(cs);
        }
    }

    /// <summary>Clients over a fresh set of resources, already created.</summary>
    public static async Task<StorageClients> FreshAsync(IReadOnlyList<Azure.Core.Pipeline.HttpPipelinePolicy>? policies = null)
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..12];
        var clients = new StorageClients(Connection, StorageNames.WithPrefix(prefix), policies);
        await clients.EnsureCreatedAsync();
        return clients;
    }
}
