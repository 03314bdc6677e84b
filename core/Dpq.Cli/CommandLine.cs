namespace Dpq.Cli;

/// <summary>Dispatch, Ctrl+C handling and the error contract shared by every command.</summary>
public static class CommandLine
{
    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, Func<string[], CancellationToken, Task<int>>> commands)
    {
        if (args.Length == 0 || !commands.TryGetValue(args[0], out var command))
        {
            Console.Error.WriteLine($"usage: dpq-cli <{string.Join('|', commands.Keys)}> [options]");
            return 2;
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        try
        {
            return await command(args[1..], cts.Token);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"dpq {args[0]}: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Console.Error.WriteLine($"dpq {args[0]}: cancelled");
            return 130;
        }
    }
}

/// <summary>A command line that cannot be run as written; the message says what to change.</summary>
public sealed class UsageException(string message) : Exception(message);
