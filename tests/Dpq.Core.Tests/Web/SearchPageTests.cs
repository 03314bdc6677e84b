using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Dpq.Web;

namespace Dpq.Tests.Web;

public sealed partial class SearchPageTests
{
    private static readonly SearchPage Page = new();

    private static string Document() => Encoding.UTF8.GetString(Page.Get(null).Body);

    private static string Inline(string tag) => Regex.Match(Document(), $"<{tag}>(.*?)</{tag}>", RegexOptions.Singleline).Groups[1].Value;

    [Fact]
    public void ThePolicyAllowsExactlyTheInlinedStyleAndScript()
    {
        var answer = Page.Get(null);
        var csp = answer.Headers!["Content-Security-Policy"];
        foreach (var tag in new[] { "style", "script" })
        {
            var content = Inline(tag);
            Assert.True(content.Length > 1000, $"the {tag} is not inlined");
            Assert.Contains($"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(content)))}'", csp);
        }
        Assert.StartsWith("default-src 'none'", csp);
        Assert.Contains("connect-src 'self'", csp);
        Assert.Equal("no-referrer", answer.Headers["Referrer-Policy"]);
    }

    [Fact]
    public void ThePageNamesNoOutsideResource()
    {
        var document = Document();
        Assert.DoesNotMatch(@"(src|href)\s*=\s*[""']?(https?:)?//", document);
        // The one absolute address is the SVG namespace, which nothing fetches.
        Assert.Equal(["http://www.w3.org/2000/svg"], Urls().Matches(document).Select(m => m.Value).Distinct());
    }

    [Fact]
    public void EveryFormControlHasALabel()
    {
        var document = Document();
        foreach (Match control in Regex.Matches(document, @"<(input|select)[^>]*\bid=""([^""]+)"""))
            Assert.Contains($"for=\"{control.Groups[2].Value}\"", document);
    }

    [Fact]
    public void AMatchingETagGets304WithoutABody()
    {
        var first = Page.Get(null);
        Assert.Equal(200, first.Status);
        var again = Page.Get(first.Headers!["ETag"]);
        Assert.Equal((304, 0), (again.Status, again.Body.Length));
        Assert.Equal(200, Page.Get("\"other\"").Status);
    }

    [GeneratedRegex(@"https?://[^\s""'`)%]+")]
    private static partial Regex Urls();
}
