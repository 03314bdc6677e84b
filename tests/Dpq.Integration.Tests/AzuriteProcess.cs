using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Dpq.Integration.Tests;

/// <summary>
/// An in-memory Azurite that lives as long as the test process: started once from the repository's
/// node_modules on free loopback ports, stopped (killed: it can take seconds to exit on SIGTERM) when
/// the process exits.
/// </summary>
public sealed class AzuriteProcess
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);
    private static AzuriteProcess? s_shared;
    private readonly Process _process;

    public string ConnectionString { get; }

    private AzuriteProcess(Process process, string connectionString)
    {
        _process = process;
        ConnectionString = connectionString;
    }

    /// <summary>node_modules/.bin/azurite of the repository this test assembly was built from, or null.</summary>
    public static string? FindExecutable()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "DpqServerless.sln"))) continue;
            var bin = Path.Combine(dir.FullName, "node_modules", ".bin", "azurite");
            return File.Exists(bin) ? bin : null;
        }
        return null;
    }

    public static AzuriteProcess StartShared(string account, string key)
    {
        if (s_shared is not null) return s_shared;
        var bin = FindExecutable() ?? throw new InvalidOperationException("Azurite is not installed in the repository (npm ci)");
        var (blob, queue, table) = (LoopbackPort.Free(), LoopbackPort.Free(), LoopbackPort.Free());
        var start = new ProcessStartInfo(bin)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--silent", "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--inMemoryPersistence",
            "--blobHost", "127.0.0.1", "--blobPort", blob.ToString(),
            "--queueHost", "127.0.0.1", "--queuePort", queue.ToString(),
            "--tableHost", "127.0.0.1", "--tablePort", table.ToString(),
        }) start.ArgumentList.Add(arg);

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {bin}");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Kill(process);

        var deadline = Stopwatch.StartNew();
        while (!(Answers(blob) && Answers(queue) && Answers(table)))
        {
            if (process.HasExited || deadline.Elapsed > s_startTimeout)
            {
                Kill(process);
                throw new InvalidOperationException($"Azurite ({bin}) did not answer within {s_startTimeout.TotalSeconds:0} s: {string.Join(" | ", log)}");
            }
            Thread.Sleep(100);
        }
        var cs = $"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};" +
            $"BlobEndpoint=http://127.0.0.1:{blob}/{account};QueueEndpoint=http://127.0.0.1:{queue}/{account};TableEndpoint=http://127.0.0.1:{table}/{account};";
        // Hosts and child processes that the tests start read the same variable as under ./dpq test.
        Environment.SetEnvironmentVariable(Azurite.ConnectionVariable, cs);
        return s_shared = new AzuriteProcess(process, cs);
    }

    private static bool Answers(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException) { return false; }
    }


    private static void Kill(Process process)
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // already gone
    }
}
