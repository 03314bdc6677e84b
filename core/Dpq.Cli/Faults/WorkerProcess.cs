using System.Diagnostics;
using Dpq.Storage;

namespace Dpq.Cli.Faults;

/// <summary>
/// One real encode worker (gpu-worker/Dpq.Worker's build output), started as scripts/stack.sh starts it: from its
/// own folder (its appsettings.json), with the storage connection, the resource names and the settings given as
/// environment variables, its console log in a file. <see cref="Kill"/> is a crash (SIGKILL: no pass finishes,
/// nothing is settled); <see cref="StopAsync"/> a shutdown (SIGTERM, then SIGKILL after <see cref="StopGrace"/>).
/// </summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _counted = new(StringComparer.Ordinal);
    private readonly string[] _countedPhrases;
    private bool _closed;

    private WorkerProcess(Process process, StreamWriter log, string[] countedPhrases)
    {
        (_process, _log, _countedPhrases) = (process, log, countedPhrases);
        foreach (var phrase in countedPhrases) _counted[phrase] = 0;
    }

    public string Name { get; private init; } = "";

    public int Pid => _process.Id;

    /// <summary>Log lines seen so far that hold each of the phrases given at start (what the worker reports it did).</summary>
    public IReadOnlyDictionary<string, int> Counted
    {
        get
        {
            lock (_lock) return new Dictionary<string, int>(_counted);
        }
    }

    public static string BinaryPath(string repoRoot) => Path.Combine(repoRoot, "gpu-worker", "Dpq.Worker", "bin", "Release", "net10.0", "dpq-worker");

    /// <param name="settings">Configuration as environment variables (Encode__VisibilityTimeout=...), besides the connection and the names.</param>
    /// <param name="countedPhrases">Log phrases to count (see <see cref="Counted"/>).</param>
    public static WorkerProcess Start(string name, string repoRoot, string connectionString, StorageNames names, IReadOnlyDictionary<string, string> settings,
        string logPath, IEnumerable<string> countedPhrases)
    {
        var bin = BinaryPath(repoRoot);
        if (!File.Exists(bin)) throw new UsageException($"{bin} is missing: build with dotnet build -c Release (./dpq setup)");
        var info = new ProcessStartInfo(bin)
        {
            WorkingDirectory = Path.GetDirectoryName(bin)!,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.Environment["DpqStorage"] = connectionString;
        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true"; // a message and its category on one line, for counting
        info.Environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        foreach (var (key, value) in names.ToSettings()) info.Environment[key] = value;
        foreach (var (key, value) in settings) info.Environment[key] = value;
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = File.AppendText(logPath);
        log.AutoFlush = true;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {bin}");
        var worker = new WorkerProcess(process, log, [.. countedPhrases]) { Name = name };
        process.OutputDataReceived += (_, e) => worker.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => worker.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>SIGKILL: the process ends at once, wherever its passes are.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>How long a stopping worker may take before it is killed.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    /// <summary>SIGTERM (the host stops its workers), SIGKILL if it has not exited within <see cref="StopGrace"/>.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        Signals.Terminate(_process.Id);
        using var grace = new CancellationTokenSource(StopGrace);
        try
        {
            await _process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    public bool HasExited => _process.HasExited;

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _process.WaitForExitAsync();
        _process.Dispose();
        lock (_lock)
        {
            _closed = true;
            _log.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_lock)
        {
            if (!_closed) _log.WriteLine(line);
            foreach (var phrase in _countedPhrases)
                if (line.Contains(phrase, StringComparison.Ordinal)) _counted[phrase]++;
        }
    }
}
