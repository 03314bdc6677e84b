using System.Diagnostics;

namespace Dpq.Cli.Faults;

/// <summary>A census and when it was begun and done (seconds on the scenario's clock).</summary>
public sealed record TimedCensus(Census Census, double StartedAt, double At);

/// <summary>
/// Takes a census again and again in the background (the next one as soon as the last is done, at most twice
/// a second) while a scenario runs, drives its progress bar, and lets the scenario wait for a condition. A
/// census that fails (storage down, in the restart scenario) is skipped.
/// </summary>
public sealed class IndexMonitor : IAsyncDisposable
{
    private readonly Func<IndexCensus> _newCensus;
    private readonly IndexCensus _census;
    private readonly IReadOnlySet<string> _names;
    private readonly ContentCodes? _codes;
    private readonly Stopwatch _clock;
    private readonly ProgressBar _bar;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private TimedCensus? _latest;

    /// <param name="newCensus">Makes a census of the scenario's index (the loop holds one, each <see cref="TakeNowAsync"/> another: a census is not thread-safe).</param>
    /// <param name="clock">The scenario's clock: census times are read from it.</param>
    public IndexMonitor(Func<IndexCensus> newCensus, IReadOnlySet<string> names, ContentCodes? codes, Stopwatch clock, ProgressBar bar)
    {
        (_newCensus, _names, _codes, _clock, _bar) = (newCensus, names, codes, clock, bar);
        _census = newCensus();
        _loop = Task.Run(() => LoopAsync(_stop.Token));
    }

    /// <summary>Shown after the bar (what the scenario is doing).</summary>
    public string Phase { get; set; } = "";

    public int FailedCensuses { get; private set; }

    public TimedCensus? Latest => Volatile.Read(ref _latest);

    /// <summary>
    /// The first census begun from now on for which <paramref name="condition"/> holds, with its time on the
    /// scenario's clock; null when none did within <paramref name="timeout"/>.
    /// </summary>
    public async Task<TimedCensus?> WaitForAsync(Func<Census, bool> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var from = _clock.Elapsed.TotalSeconds;
        var until = _clock.Elapsed + timeout;
        while (_clock.Elapsed < until)
        {
            if (Latest is { } l && l.StartedAt >= from && condition(l.Census)) return l;
            await Task.Delay(50, cancellationToken);
        }
        return null;
    }

    /// <summary>One census now, outside the loop (at a fault's end and at the end of a scenario); retried while storage fails, up to 30 s.</summary>
    public async Task<Census> TakeNowAsync(CancellationToken cancellationToken)
    {
        var census = _newCensus();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await census.TakeAsync(_names, _codes, cancellationToken);
            }
            catch (Exception e) when (TransientFaults.Match(e, cancellationToken) && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(500, cancellationToken);
            }
        }
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var started = _clock.Elapsed;
            try
            {
                var census = await _census.TakeAsync(_names, _codes, stop);
                Volatile.Write(ref _latest, new TimedCensus(census, started.TotalSeconds, _clock.Elapsed.TotalSeconds));
                _bar.Report(census.Indexed, Phase);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                FailedCensuses++;
            }
            var wait = TimeSpan.FromMilliseconds(500) - (_clock.Elapsed - started);
            try
            {
                if (wait > TimeSpan.Zero) await Task.Delay(wait, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
