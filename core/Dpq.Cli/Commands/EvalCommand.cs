namespace Dpq.Cli;

public static class EvalCommand
{
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        Console.Error.WriteLine("dpq eval: not built yet (see the open issues)");
        return Task.FromResult(1);
    }
}
