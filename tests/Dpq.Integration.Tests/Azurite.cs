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

    /// <summary>The emulator's well-known account (public, the same on every machine).</summary>
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>The emulator's endpoints, signed in with <paramref name="sas"/> instead of the account key.</summary>
    public static StorageConnection WithSas(string sas)
    {
        var endpoints = Connection.ConnectionString!.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Where(part => part.Split('=')[0].EndsWith("Endpoint", StringComparison.Ordinal));
        return StorageConnection.FromConnectionString(string.Join(';', endpoints.Append("SharedAccessSignature=" + sas)));
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
