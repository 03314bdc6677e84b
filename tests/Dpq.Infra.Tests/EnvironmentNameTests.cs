using System.Text.RegularExpressions;

namespace Dpq.Infra.Tests;

/// <summary>
/// The environment name is part of every resource name, so main.bicep takes only names that make valid
/// ones: 2 to 10 letters, digits and dashes, starting with a letter, not ending with a dash, with no two
/// dashes in a row, upper case used as lower case. Anything else is refused before a resource is named.
/// </summary>
public sealed partial class EnvironmentNameTests
{
    [Fact]
    public void TheParameterIsTwoToTenCharacters()
    {
        var parameter = CompiledTemplates.Root("main.bicep").GetProperty("parameters").GetProperty("environmentName");
        Assert.Equal(2, parameter.GetProperty("minLength").GetInt32());
        Assert.Equal(10, parameter.GetProperty("maxLength").GetInt32());
    }

    // Lower-case letters, digits and single dashes, from a letter to a letter or digit: what the strictest
    // of the names takes (Container Apps, the search service).
    [GeneratedRegex("^[a-z](-?[a-z0-9])*$")]
    private static partial Regex PlainName();

    [Theory]
    [InlineData("dev")]
    [InlineData("my-env")]
    [InlineData("Dev-1")]
    [InlineData("a-b-c-d-e1")]
    public void AnyNameThatKeepsTheRuleMakesValidResourceNames(string environmentName)
    {
        var snapshot = DeploymentSnapshots.Of(("environmentName", $"'{environmentName}'"), ("searchCatalog", "true"));
        var named = snapshot.Resources.Select(r => (Type: r.GetProperty("type").GetString()!, Name: r.GetProperty("name").GetString()!))
            .Where(r => !r.Name.Contains('/') && r.Type != "Microsoft.Authorization/roleAssignments").ToList();
        Assert.All(named, r => Assert.Matches(PlainName(), r.Name));
        string[] Names(string type) => named.Where(r => r.Type == type).Select(r => r.Name).ToArray();
        var accounts = Names("Microsoft.Storage/storageAccounts");
        Assert.Equal(3, accounts.Length);
        Assert.All(accounts, name => Assert.Matches("^[a-z0-9]{3,24}$", name));
        Assert.Matches("^[a-z0-9]{5,50}$", Assert.Single(Names("Microsoft.ContainerRegistry/registries")));
        Assert.InRange(Assert.Single(Names("Microsoft.Search/searchServices")).Length, 2, 60);
        Assert.All(Names("Microsoft.App/containerApps").Concat(Names("Microsoft.App/jobs")), name => Assert.InRange(name.Length, 2, 32));
        Assert.All(Names("Microsoft.Web/sites"), name => Assert.InRange(name.Length, 2, 60));
        Assert.Contains(environmentName.ToLowerInvariant(), Assert.Single(Names("Microsoft.App/containerApps")));
    }

    [Theory]
    [InlineData("1dev")] // a digit first
    [InlineData("-dev")]
    [InlineData("dev-")] // a trailing dash: "srch-dpq-dev--..."
    [InlineData("de--v")]
    [InlineData("de_v")]
    [InlineData("dev.1")]
    [InlineData("dev 1")]
    [InlineData("d\u00e9v")]
    public void ANameOutsideTheRuleIsRefusedWithTheRule(string environmentName)
    {
        var refusal = DeploymentSnapshots.Refusal(("environmentName", $"'{environmentName}'"));
        Assert.Contains($"environmentName '{environmentName}'", refusal);
        Assert.Contains("letters, digits and dashes", refusal);
    }
}
