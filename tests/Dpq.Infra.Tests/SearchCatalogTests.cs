namespace Dpq.Infra.Tests;

/// <summary>
/// The optional search catalog (main.bicep's searchCatalog), in what a deployment would create with it
/// off (the default) and on: the service only when asked for, identity only, each identity holding only
/// its roles and only on the service, and the DpqSearch settings in exactly the components that use the
/// catalog, each as its own identity.
/// </summary>
public sealed class SearchCatalogTests
{
    // Built-in role definition ids (docs: Azure AI Search built-in roles).
    private const string IndexDataReader = "1407120a-92aa-4202-b7e9-c0e197c71c8f";
    private const string IndexDataContributor = "8ebe5a00-799e-43f5-93ac-243d3dce84a7";
    private const string ServiceContributor = "7ca78c08-252a-4471-8644-bb5ff32d4ba0";
    private static readonly string[] SearchRoles = [IndexDataReader, IndexDataContributor, ServiceContributor];

    private static Snapshot Off => DeploymentSnapshots.Of();

    private static Snapshot On => DeploymentSnapshots.Of(("searchCatalog", "true"));

    [Fact]
    public void IsOffUnlessAskedFor()
    {
        var parameter = CompiledTemplates.Root("main.bicep").GetProperty("parameters").GetProperty("searchCatalog");
        Assert.Equal("bool", parameter.GetProperty("type").GetString());
        Assert.False(parameter.GetProperty("defaultValue").GetBoolean());
    }

    [Fact]
    public void WithoutItThereIsNoServiceNoRoleAndNoSetting()
    {
        var off = Off;
        Assert.Empty(off.OfType("Microsoft.Search/searchServices"));
        Assert.DoesNotContain(off.RoleAssignments, a => SearchRoles.Contains(a.Role));
        foreach (var (component, settings) in off.ComponentSettings)
            Assert.False(settings.Keys.Any(k => k.StartsWith("DpqSearch", StringComparison.Ordinal)), $"{component} has search settings");
        Assert.Equal("", off.Outputs.GetProperty("AZURE_SEARCH_ENDPOINT").GetString());
    }

    [Fact]
    public void TheServiceTakesNoKeys()
    {
        var service = On.Single("Microsoft.Search/searchServices");
        Assert.Equal("basic", service.GetProperty("sku").GetProperty("name").GetString());
        var properties = service.GetProperty("properties");
        Assert.True(properties.GetProperty("disableLocalAuth").GetBoolean());
        Assert.False(properties.TryGetProperty("authOptions", out _)); // API keys would be a second way in
    }

    [Fact]
    public void EachIdentityHoldsOnlyItsRolesAndOnlyOnTheService()
    {
        var on = On;
        var service = on.Single("Microsoft.Search/searchServices").GetProperty("id").GetString();
        var granted = on.RoleAssignments.Where(a => SearchRoles.Contains(a.Role)).ToList();
        Assert.All(granted, a => Assert.Equal(service, a.Scope));
        Assert.All(on.RoleAssignments.Where(a => a.Scope == service), a => Assert.Contains(a.Role, SearchRoles));
        string[] Roles(string component) => granted.Where(a => a.IsIdentity(component)).Select(a => a.Role).Order().ToArray();
        // The query app reads; the worker writes documents and creates the index on first use; the job
        // only deletes a retired version's documents.
        Assert.Equal([IndexDataReader], Roles("query"));
        Assert.Equal([.. new[] { IndexDataContributor, ServiceContributor }.Order()], Roles("worker"));
        Assert.Equal([IndexDataContributor], Roles("trainer"));
        Assert.Empty(Roles("intake"));
        Assert.Equal(4, granted.Count); // and no other principal
    }

    [Fact]
    public void OnlyTheWorkerCanManageTheService()
    {
        // Search Service Contributor manages the whole service, its keys and key authentication included:
        // one identity holds it, the one that creates the index schema.
        var holders = On.RoleAssignments.Where(a => a.Role == ServiceContributor).ToList();
        Assert.True(Assert.Single(holders).IsIdentity("worker"), $"held by {holders[0].Principal}");
    }

    [Fact]
    public void TheComponentsThatUseItGetItsSettingsAsTheirOwnIdentity()
    {
        var on = On;
        var endpoint = $"https://{on.Single("Microsoft.Search/searchServices").GetProperty("name").GetString()}.search.windows.net";
        foreach (var (component, settings) in on.ComponentSettings)
        {
            if (component == "intake")
            {
                // It has no part in the catalog.
                Assert.False(settings.Keys.Any(k => k.StartsWith("DpqSearch", StringComparison.Ordinal)), "the intake app has search settings");
                continue;
            }
            Assert.Equal(endpoint, settings["DpqSearch__endpoint"]);
            Assert.Equal("dpq-images", settings["DpqSearch__indexName"]);
            Assert.Equal(settings["DpqStorage__clientId"], settings["DpqSearch__clientId"]); // its own identity, as for storage
            Assert.Contains($"/userAssignedIdentities/id-dpq-{component}-", settings["DpqSearch__clientId"]);
        }
        Assert.Equal(endpoint, on.Outputs.GetProperty("AZURE_SEARCH_ENDPOINT").GetString());
    }
}
