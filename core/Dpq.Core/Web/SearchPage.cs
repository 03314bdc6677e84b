using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Dpq.Query;

namespace Dpq.Web;

/// <summary>
/// GET /api/search: the search page, one self-contained document (its style and script inlined, so one
/// request with the function key loads it all and the page needs no other resource). The Content-Security-Policy
/// allows exactly that inline style and script (by hash), images from this app, the picked file and the inline icon, and
/// requests to this app only.
/// </summary>
public sealed class SearchPage
{
    private readonly byte[] _document;
    private readonly Dictionary<string, string> _headers;

    public SearchPage()
    {
        var style = WebResources.Text("search.css");
        var script = WebResources.Text("search.js");
        var html = WebResources.Text("search.html").Replace("/*STYLE*/", style, StringComparison.Ordinal).Replace("/*SCRIPT*/", script, StringComparison.Ordinal);
        _document = Encoding.UTF8.GetBytes(html);
        Csp = $"default-src 'none'; script-src '{Hash(script)}'; style-src '{Hash(style)}'; img-src 'self' blob: data:; connect-src 'self'; "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        ETag = $"\"{Convert.ToHexStringLower(SHA256.HashData(_document))[..32]}\"";
        _headers = new Dictionary<string, string>
        {
            ["Content-Security-Policy"] = Csp,
            ["ETag"] = ETag,
            ["Cache-Control"] = "no-cache", // revalidate each time: a deployment changes the page
            ["X-Content-Type-Options"] = "nosniff",
            ["Referrer-Policy"] = "no-referrer", // the page's address may carry the function key
        };
    }

    public string Csp { get; }

    public string ETag { get; }

    public HttpAnswer Get(string? ifNoneMatch) =>
        ifNoneMatch is not null && ifNoneMatch.Split(',').Any(t => t.Trim() == ETag)
            ? new HttpAnswer(304, "text/html; charset=utf-8", [], Headers: _headers)
            : new HttpAnswer(200, "text/html; charset=utf-8", _document, Headers: _headers);

    private static string Hash(string inline) => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(inline)));
}
