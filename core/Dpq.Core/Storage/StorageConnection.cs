using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Configuration;

namespace Dpq.Storage;

/// <summary>
/// Where the project's storage account is and how to sign in to it, read the way the Functions host
/// reads a connection named <see cref="DefaultName"/>: either one value holding a connection string
/// (Azurite, locally), or a section with <c>blobServiceUri</c>, <c>queueServiceUri</c>,
/// <c>tableServiceUri</c> and optionally <c>credential=managedidentity</c> + <c>clientId</c>
/// (Azure, no keys). One setting therefore serves the triggers and our own clients alike.
/// </summary>
public sealed record StorageConnection
{
    public const string DefaultName = "DpqStorage";

    public string? ConnectionString { get; init; }
    public Uri? BlobServiceUri { get; init; }
    public Uri? QueueServiceUri { get; init; }
    public Uri? TableServiceUri { get; init; }
    /// <summary>Client id of a user-assigned managed identity; null means DefaultAzureCredential.</summary>
    public string? ClientId { get; init; }

    public static StorageConnection FromConnectionString(string connectionString) =>
        string.IsNullOrWhiteSpace(connectionString)
            ? throw new ArgumentException("the storage connection string is empty", nameof(connectionString))
            : new StorageConnection { ConnectionString = connectionString };

    /// <summary>Reads connection <paramref name="name"/> from configuration; throws with the settings to add if absent.</summary>
    public static StorageConnection FromConfiguration(IConfiguration configuration, string name = DefaultName)
    {
        var value = configuration[name];
        if (!string.IsNullOrWhiteSpace(value)) return FromConnectionString(value);

        var section = configuration.GetSection(name);
        Uri? Read(string key)
        {
            var s = section[key];
            if (string.IsNullOrWhiteSpace(s)) return null;
            return Uri.TryCreate(s, UriKind.Absolute, out var uri)
                ? uri
                : throw new InvalidOperationException($"setting {name}__{key} is not an absolute URI: '{s}'");
        }
        var connection = new StorageConnection
        {
            BlobServiceUri = Read("blobServiceUri"),
            QueueServiceUri = Read("queueServiceUri"),
            TableServiceUri = Read("tableServiceUri"),
            ClientId = section["clientId"],
        };
        if (connection.BlobServiceUri is null || connection.QueueServiceUri is null || connection.TableServiceUri is null)
        {
            throw new InvalidOperationException(
                $"storage connection '{name}' is not configured: set {name} to a connection string, or set " +
                $"{name}__blobServiceUri, {name}__queueServiceUri and {name}__tableServiceUri (identity-based)");
        }
        return connection;
    }

    internal TokenCredential CreateCredential() =>
        ComponentCredential.For(ClientId);
}
