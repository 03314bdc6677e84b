using Dpq.Storage;

namespace Dpq.Integration.Tests;

/// <summary>
/// The storage emulator the integration tests use: the one named by DPQ_STORAGE_CONNECTION (./dpq test
/// starts Azurite and sets it), else an in-memory Azurite this test process starts from the repository's
/// node_modules (plain <c>dotnet test</c>). Each caller gets a fresh, uniquely prefixed set of
/// containers, queues and tables, so no test sees another's data or an earlier run's leftovers.
/// </summary>
public static class Azurite
{
    public const string ConnectionVariable = "DPQ_STORAGE_CONNECTION";

    private static readonly Lazy<string> s_connectionString = new(ResolveConnectionString, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Why storage tests cannot run here, or null when they can.</summary>
    public static string? Unavailable { get; } = FindUnavailableReason();

    public static string ConnectionString => s_connectionString.Value;

    public static StorageConnection Connection => StorageConnection.FromConnectionString(ConnectionString);

    /// <summary>The emulator's well-known account (public, the same on every machine).</summary>
    public const string AccountName = "devstoreaccount1";
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>The emulator's endpoints, signed in with <paramref name="sas"/> instead of the account key.</summary>
    public static StorageConnection WithSas(string sas)
    {
        var endpoints = ConnectionString.Split(';', StringSplitOptions.RemoveEmptyEntries)
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

    private static string? FromEnvironment() =>
        Environment.GetEnvironmentVariable(ConnectionVariable) is { Length: > 0 } cs ? cs : null;

    private static string? FindUnavailableReason()
    {
        if (FromEnvironment() is not null) return null;
        return AzuriteProcess.FindExecutable() is null
            ? $"no storage emulator: set {ConnectionVariable}, or install Azurite into the repository (npm ci) so the tests can start it"
            : null;
    }

    private static string ResolveConnectionString()
    {
        if (FromEnvironment() is { } cs) return cs;
        if (Unavailable is not null) throw new InvalidOperationException(Unavailable);
        return AzuriteProcess.StartShared(AccountName, AccountKey).ConnectionString;
    }
}

/// <summary>What the integration tests need and this machine lacks (storage, the test images), or null.</summary>
public static class Prerequisites
{
    public static string? Missing { get; } = Azurite.Unavailable
        ?? (Data.FashionMnist.IsInstalled() ? null
            : $"the test images are not installed: Fashion-MNIST in {Data.FashionMnist.DefaultDirectory} (Debian: apt-get install dataset-fashion-mnist)");
}

/// <summary>A test that needs storage and the test images: skipped, with the reason, where either cannot be had.</summary>
public sealed class StorageFactAttribute : FactAttribute
{
    public StorageFactAttribute()
    {
        if (Prerequisites.Missing is { } reason) Skip = reason;
    }
}

/// <inheritdoc cref="StorageFactAttribute"/>
public sealed class StorageTheoryAttribute : TheoryAttribute
{
    public StorageTheoryAttribute()
    {
        if (Prerequisites.Missing is { } reason) Skip = reason;
    }
}
