namespace Dpq.Cli;

public static class TrainCommand
{
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        Console.Error.WriteLine("dpq train: not built yet (see the open issues)");
        return Task.FromResult(1);
    }
}
