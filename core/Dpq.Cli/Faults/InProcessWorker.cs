using Dpq.Ingest;

namespace Dpq.Cli.Faults;

/// <summary>What an in-process worker's passes did, summed.</summary>
public sealed record DrainTotals(int Passes, int FailedPasses, int Received, int Indexed, int Failed, int Retried);

/// <summary>
/// The encode worker's loop in this process, as gpu-worker's EncodeQueueWorker runs it: one
/// <see cref="EncodeQueueDrainer.DrainOnceAsync"/> after another, a pause when the queue is empty, and after a
/// failed pass the same bounded back-off, doubling up to <see cref="MaxBackoff"/>.
/// </summary>
public sealed class InProcessWorker(EncodeQueueDrainer drainer, TimeSpan idleDelay, BenchLog log)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private readonly Lock _lock = new();
    private DrainTotals _totals = new(0, 0, 0, 0, 0, 0);

    public DrainTotals Totals
    {
        get
        {
            lock (_lock) return _totals;
        }
    }

    /// <summary>Set once a pass ran with a model loaded (the worker is warm).</summary>
    public bool Ready { get; private set; }

    public async Task RunAsync(CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var r = await drainer.DrainOnceAsync(stop);
                failures = 0;
                if (!r.NoModel) Ready = true;
                lock (_lock)
                    _totals = _totals with
                    {
                        Passes = _totals.Passes + 1, Received = _totals.Received + r.Received, Indexed = _totals.Indexed + r.Indexed,
                        Failed = _totals.Failed + r.Failed, Retried = _totals.Retried + r.Retried,
                    };
                if (r.Received == 0) await Task.Delay(idleDelay, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                failures++;
                log.Write(Microsoft.Extensions.Logging.LogLevel.Error, nameof(InProcessWorker), $"Drain pass failed ({failures} in a row)", e);
                lock (_lock) _totals = _totals with { FailedPasses = _totals.FailedPasses + 1 };
                var delay = TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 500 * Math.Pow(2, Math.Min(failures, 10))));
                try
                {
                    await Task.Delay(delay, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }
}
