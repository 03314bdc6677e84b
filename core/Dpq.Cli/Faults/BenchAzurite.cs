using System.Diagnostics;
using System.Net.Sockets;

namespace Dpq.Cli.Faults;

/// <summary>
/// An Azurite of the bench's own, on its own ports and data folder, started as scripts/azurite.sh starts the
/// stack's (the same flags), so the bench never touches another Azurite on the machine and may stop and start
/// this one (the restart scenario). <see cref="StopAsync"/> ends exactly the process it started: SIGTERM, then
/// SIGKILL after <see cref="StopGrace"/>; Azurite saves its data on SIGTERM, so a restart finds what was stored.
/// </summary>
public sealed class BenchAzurite(string repoRoot, string dataDirectory, string logPath, int blobPort) : IAsyncDisposable
{
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(15);

    // Azurite's published development account (the same on every machine, only ever local).
    private const string Account = "devstoreaccount1";
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private Process? _process;
    private StreamWriter? _log;

    public int QueuePort => blobPort + 1;
    public int TablePort => blobPort + 2;

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};BlobEndpoint=http://127.0.0.1:{blobPort}/{Account};"
        + $"QueueEndpoint=http://127.0.0.1:{QueuePort}/{Account};TableEndpoint=http://127.0.0.1:{TablePort}/{Account};";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts Azurite on the data folder and returns once all three services accept connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (IsRunning) return;
        foreach (var port in new[] { blobPort, QueuePort, TablePort })
            if (await AcceptsAsync(port)) throw new UsageException($"port {port} on 127.0.0.1 is taken; choose other ports with --ports");
        var bin = Path.Combine(repoRoot, "node_modules", ".bin", "azurite");
        if (!File.Exists(bin)) throw new UsageException("Azurite is not installed: run ./dpq setup");
        Directory.CreateDirectory(dataDirectory);
        var info = new ProcessStartInfo(bin)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in new[] { "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--location", dataDirectory,
            "--blobHost", "127.0.0.1", "--blobPort", $"{blobPort}", "--queueHost", "127.0.0.1", "--queuePort", $"{QueuePort}",
            "--tableHost", "127.0.0.1", "--tablePort", $"{TablePort}" })
            info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start Azurite");
        _process = process;
        var log = _log = File.AppendText(logPath);
        log.AutoFlush = true;
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lock (log) log.WriteLine(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (log) log.WriteLine(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!(await AcceptsAsync(blobPort) && await AcceptsAsync(QueuePort) && await AcceptsAsync(TablePort)))
        {
            if (process.HasExited) throw new InvalidOperationException($"Azurite exited during start (exit {process.ExitCode}; log: {logPath})");
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("Azurite did not answer within 30 s");
            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Stops the process started here: SIGTERM, SIGKILL after <see cref="StopGrace"/>. Returns how long it took to exit.</summary>
    public async Task<TimeSpan> StopAsync()
    {
        if (_process is not { } process) return TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        if (!process.HasExited)
        {
            Signals.Terminate(process.Id);
            using var grace = new CancellationTokenSource(StopGrace);
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
        process.Dispose();
        _process = null;
        if (_log is { } log) lock (log) log.Dispose();
        _log = null;
        return clock.Elapsed;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
