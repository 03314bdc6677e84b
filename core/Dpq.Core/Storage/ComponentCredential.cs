using Azure.Core;
using Azure.Identity;

namespace Dpq.Storage;

/// <summary>How a component signs in to Azure services: its user-assigned managed identity when a client id is given, else the default chain (a developer's sign-in, locally).</summary>
public static class ComponentCredential
{
    public static TokenCredential For(string? clientId) =>
        clientId is { Length: > 0 } id ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(id)) : new DefaultAzureCredential();
}
