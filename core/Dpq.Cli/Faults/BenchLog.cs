using Microsoft.Extensions.Logging;

namespace Dpq.Cli.Faults;

/// <summary>
/// Where the in-process services of a bench scenario log: one file, a line per message (with the exception's
/// type and message), and counts of warnings, errors and of lines holding given phrases, which say how often a
/// defence acted (the same phrases are counted in a worker process's console log).
/// </summary>
public sealed class BenchLog : IDisposable
{
    private readonly StreamWriter _file;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _counted;
    private bool _closed;

    public BenchLog(string path, IEnumerable<string> countedPhrases)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _file = File.AppendText(path);
        _counted = countedPhrases.ToDictionary(p => p, _ => 0, StringComparer.Ordinal);
    }

    public int Warnings { get; private set; }
    public int Errors { get; private set; }

    public IReadOnlyDictionary<string, int> Counted
    {
        get
        {
            lock (_lock) return new Dictionary<string, int>(_counted);
        }
    }

    public void Write(LogLevel level, string category, string message, Exception? exception)
    {
        // A warning's exception in brief; an error's whole, with its stack, to find where it came from.
        var line = $"{DateTime.Now:HH:mm:ss.fff} {level.ToString().ToLowerInvariant()[..4]}: {category} {message}"
            + (exception is null ? "" : level >= LogLevel.Error ? Environment.NewLine + exception
                : $" [{exception.GetType().Name}: {exception.Message.ReplaceLineEndings(" ")}]");
        lock (_lock)
        {
            if (level == LogLevel.Warning) Warnings++;
            if (level >= LogLevel.Error) Errors++;
            foreach (var phrase in _counted.Keys.Where(p => message.Contains(p, StringComparison.Ordinal)).ToList()) _counted[phrase]++;
            if (!_closed) _file.WriteLine(line);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _closed = true;
            _file.Dispose();
        }
    }
}

/// <summary>An <see cref="ILogger{T}"/> over <see cref="BenchLog"/>: Information and above.</summary>
public sealed class BenchLogger<T>(BenchLog log) : ILogger<T>
{
    private static readonly string Category = typeof(T).Name;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) log.Write(logLevel, Category, formatter(state, exception), exception);
    }
}
