using System.Globalization;

namespace Dpq.Cli;

/// <summary>
/// Minimal "--name value" / "--flag" parser. Unknown options are errors, so a typo never silently
/// falls back to a default.
/// </summary>
public sealed class Options
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public Options(IEnumerable<string> args)
    {
        string? pending = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (pending is not null) _values[pending] = null;
                pending = arg[2..];
                if (pending.Length == 0) throw new UsageException("empty option name '--'");
                if (_values.ContainsKey(pending)) throw new UsageException($"--{pending} given twice");
            }
            else if (pending is not null)
            {
                _values[pending] = arg;
                pending = null;
            }
            else
            {
                throw new UsageException($"unexpected argument '{arg}'");
            }
        }
        if (pending is not null) _values[pending] = null;
    }

    public bool Flag(string name)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var v)) return false;
        if (v is not null) throw new UsageException($"--{name} takes no value (got '{v}')");
        return true;
    }

    public string? String(string name)
    {
        _read.Add(name);
        if (!_values.TryGetValue(name, out var v)) return null;
        return v ?? throw new UsageException($"--{name} needs a value");
    }

    public string Required(string name) => String(name) ?? throw new UsageException($"--{name} is required");

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = String(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"--{name} must be a whole number from {min} to {max} (got '{s}')");
        return v;
    }

    public double Double(string name, double fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new UsageException($"--{name} must be a number (got '{s}')");
        return v;
    }

    /// <summary>Call after reading every option: anything left over is a typo or an unsupported option.</summary>
    public void EnsureAllRead()
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option(s): {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}
