namespace Dpq.Infra.Tests;

/// <summary>
/// Reads the YAML that azure.yaml is written in: nested maps of plain or quoted scalars, indented by two
/// spaces, with comment lines. Anything else (lists, flow style, anchors, multi-line scalars, comments
/// after a value) is refused with its line, so a test never reads a file differently from azd.
/// </summary>
internal static class YamlMaps
{
    public sealed class Map : Dictionary<string, object>
    {
        public Map() : base(StringComparer.Ordinal) { }

        public Map Child(string key) => this[key] as Map ?? throw new InvalidDataException($"'{key}' is not a map");

        public string Scalar(string key) => this[key] as string ?? throw new InvalidDataException($"'{key}' is not a scalar");
    }

    public static Map Read(string path)
    {
        var root = new Map();
        var open = new Stack<(int Indent, Map Map)>();
        open.Push((-1, root));
        var lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var text = raw.TrimEnd();
            var content = text.TrimStart();
            if (content.Length == 0 || content.StartsWith('#')) continue;
            var indent = text.Length - content.Length;
            string Where() => $"{path}:{lineNumber}: {raw}";
            if (indent % 2 != 0 || content.StartsWith('-') || content.Contains('\t')) throw new NotSupportedException($"not a two-space map entry: {Where()}");
            var colon = content.IndexOf(':');
            if (colon <= 0 || (colon + 1 < content.Length && content[colon + 1] != ' ')) throw new NotSupportedException($"no 'key: value': {Where()}");
            var key = content[..colon];
            var value = content[(colon + 1)..].Trim();
            while (open.Peek().Indent >= indent) open.Pop();
            var parent = open.Peek().Map;
            if (parent.ContainsKey(key)) throw new InvalidDataException($"'{key}' twice: {Where()}");
            if (value.Length == 0)
            {
                var child = new Map();
                parent[key] = child;
                open.Push((indent, child));
            }
            else
            {
                parent[key] = Unquote(value, Where);
            }
        }
        return root;
    }

    private static string Unquote(string value, Func<string> where)
    {
        if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0]) return value[1..^1];
        if ("[{&*|>!\"'".Contains(value[0]) || value.Contains(" #")) throw new NotSupportedException($"not a plain scalar: {where()}");
        return value;
    }
}
