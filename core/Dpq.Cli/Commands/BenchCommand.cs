namespace Dpq.Cli;

public static class BenchCommand
{
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        Console.Error.WriteLine("dpq bench: not built yet (see the open issues)");
        return Task.FromResult(1);
    }
}
