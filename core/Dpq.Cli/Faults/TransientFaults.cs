namespace Dpq.Cli.Faults;

/// <summary>A storage call that failed and may work next time (the worker's own test, plus a refused connection), for the harness's retries.</summary>
internal static class TransientFaults
{
    public static bool Match(Exception e, CancellationToken cancellationToken) =>
        e is Azure.RequestFailedException or AggregateException or IOException or HttpRequestException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);
}
