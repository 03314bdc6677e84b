using System.Text.RegularExpressions;

namespace Dpq.Integration.Tests.Api;

/// <summary>One request of docs/api/dpq.http, its variables filled in: method, path, content type, body text or body file.</summary>
internal sealed record HttpExample(string Title, string Method, string Path, string? ContentType, string Body, string? BodyFile);

/// <summary>
/// Reads a .http file as the VS Code REST Client and Visual Studio do: "@name = value" variables, requests separated by
/// "###" lines, each a request line, headers, a blank line and a body ("&lt; path" for a file).
/// </summary>
internal static partial class HttpExamples
{
    public static string FilePath { get; } = Path.Combine(OpenApiFile.RepoRoot, "docs", "api", "dpq.http");

    public static IReadOnlyList<HttpExample> Read()
    {
        var lines = File.ReadAllLines(FilePath);
        var variables = lines.Select(l => Variable().Match(l)).Where(m => m.Success).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim());
        string Fill(string text)
        {
            for (var depth = 0; depth < 10 && text.Contains("{{", StringComparison.Ordinal); depth++)
                text = Reference().Replace(text, m => variables.TryGetValue(m.Groups[1].Value, out var v) ? v : throw new Xunit.Sdk.XunitException($"dpq.http uses {{{{{m.Groups[1].Value}}}}}, which it does not define"));
            return text;
        }
        var examples = new List<HttpExample>();
        var blocks = string.Join('\n', lines).Split("\n###");
        foreach (var block in blocks.Skip(1))
        {
            var blockLines = block.Split('\n');
            var title = blockLines[0].Trim();
            var rest = blockLines.Skip(1).SkipWhile(l => l.Trim().Length == 0 || l.StartsWith('#') || l.StartsWith("//", StringComparison.Ordinal) || Variable().IsMatch(l)).ToList();
            var requestLine = Fill(rest[0]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var headers = rest.Skip(1).TakeWhile(l => l.Trim().Length > 0).Select(h => h.Split(':', 2)).ToDictionary(h => h[0].Trim(), h => Fill(h[1].Trim()), StringComparer.OrdinalIgnoreCase);
            var body = Fill(string.Join('\n', rest.Skip(1).SkipWhile(l => l.Trim().Length > 0).Skip(1)).Trim());
            var file = body.StartsWith("< ", StringComparison.Ordinal) ? body[2..].Trim() : null;
            examples.Add(new HttpExample(title, requestLine[0], new Uri(requestLine[1]).AbsolutePath, headers.GetValueOrDefault("Content-Type"), file is null ? body : "", file));
        }
        return examples;
    }

    [GeneratedRegex(@"^@(\w+)\s*=(.*)$")]
    private static partial Regex Variable();

    [GeneratedRegex(@"\{\{(\w+)\}\}")]
    private static partial Regex Reference();
}
