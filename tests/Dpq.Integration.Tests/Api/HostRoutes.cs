using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;

namespace Dpq.Integration.Tests.Api;

/// <summary>One HTTP route a host serves: method (upper case), path as the document writes it, and whether it needs a key.</summary>
internal sealed record HostRoute(string Method, string Path, bool RequiresKey)
{
    public string Key => $"{Method} {Path}";
}

/// <summary>The HTTP routes each host really serves, read from the host itself, not from a list kept beside it.</summary>
internal static class HostRoutes
{
    /// <summary>
    /// The local host's routes: the endpoints of every <see cref="EndpointDataSource"/> the app maps, which its router
    /// serves once it starts. The local host checks no key: it listens on 127.0.0.1 only.
    /// </summary>
    public static IReadOnlyList<HostRoute> Local(IEndpointRouteBuilder app) =>
        [.. app.DataSources.SelectMany(source => source.Endpoints).OfType<RouteEndpoint>().SelectMany(endpoint =>
            (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(method => new HostRoute(method.ToUpperInvariant(), "/" + endpoint.RoutePattern.RawText!.TrimStart('/'), false)))];

    /// <summary>
    /// The Azure Functions app's HTTP triggers, from the functions.metadata its build writes (what the Functions host
    /// reads to route requests), under the host's route prefix ("api" unless host.json sets extensions.http.routePrefix).
    /// </summary>
    public static IReadOnlyList<HostRoute> Functions()
    {
        var configuration = typeof(HostRoutes).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Configuration").Value!;
        var metadata = Path.Combine(OpenApiFile.RepoRoot, "functions", "Dpq.Functions", "bin", configuration, "net10.0", "functions.metadata");
        Assert.True(File.Exists(metadata), $"{metadata} is missing: build functions/Dpq.Functions");
        using var functions = JsonDocument.Parse(File.ReadAllText(metadata));
        var prefix = RoutePrefix();
        return [.. functions.RootElement.EnumerateArray()
            .SelectMany(f => f.GetProperty("bindings").EnumerateArray().Where(b => b.GetProperty("type").GetString() == "httpTrigger")
                .Select(b => (Function: f.GetProperty("name").GetString()!, Trigger: b)))
            .SelectMany(t => t.Trigger.GetProperty("methods").EnumerateArray().Select(m => new HostRoute(
                m.GetString()!.ToUpperInvariant(),
                // A trigger without a route is served at the function's name.
                "/" + string.Join('/', new[] { prefix, t.Trigger.TryGetProperty("route", out var route) ? route.GetString()! : t.Function }.Where(p => p.Length > 0)),
                !string.Equals(t.Trigger.GetProperty("authLevel").GetString(), "Anonymous", StringComparison.OrdinalIgnoreCase))))];
    }

    private static string RoutePrefix()
    {
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(OpenApiFile.RepoRoot, "host.json")));
        return host.RootElement.TryGetProperty("extensions", out var extensions) && extensions.TryGetProperty("http", out var http)
            && http.TryGetProperty("routePrefix", out var prefix) ? prefix.GetString()!.Trim('/') : "api";
    }
}
