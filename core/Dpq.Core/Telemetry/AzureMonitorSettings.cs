using Azure.Core;
using Microsoft.Extensions.Configuration;

namespace Dpq.Telemetry;

/// <summary>
/// Where telemetry goes and how it signs in, from the settings the Functions host itself reads:
/// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c>, and <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c> of the form
/// <c>ClientId=&lt;user-assigned identity&gt;;Authorization=AAD</c> (Entra ID ingestion: the component takes no key).
/// </summary>
public sealed record AzureMonitorSettings(string ConnectionString, string? ClientId, bool UseEntraId)
{
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string AuthenticationStringSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    /// <summary>The settings, or null when no connection string is set (telemetry then stays in the process).</summary>
    public static AzureMonitorSettings? FromConfiguration(IConfiguration configuration)
    {
        if (configuration[ConnectionStringSetting] is not { Length: > 0 } connectionString) return null;
        if (configuration[AuthenticationStringSetting] is not { Length: > 0 } auth) return new(connectionString, null, false);

        var parts = auth.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => p[0], p => p.Length == 2 ? p[1] : "", StringComparer.OrdinalIgnoreCase);
        if (!parts.TryGetValue("Authorization", out var kind) || !kind.Equals("AAD", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"{AuthenticationStringSetting} must say Authorization=AAD (got '{auth}')");
        return new(connectionString, parts.TryGetValue("ClientId", out var id) && id.Length > 0 ? id : null, true);
    }

    /// <summary>The credential for Entra ID ingestion: the named user-assigned identity, else the default chain; null without Entra ID.</summary>
    public TokenCredential? CreateCredential() => !UseEntraId ? null
        : Storage.ComponentCredential.For(ClientId);
}
