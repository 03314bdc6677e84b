using System.Diagnostics;

namespace Dpq.Cli;

/// <summary>
/// One progress line: redrawn in place on a terminal (at most ten times a second), printed every
/// tenth of the way when the output is a file or a pipe, so logs stay short.
/// </summary>
public sealed class ProgressBar(string label, int total) : IProgress<int>
{
    private readonly bool _interactive = !Console.IsOutputRedirected;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private long _lastDrawMs = -1000;
    private int _lastDecile = -1;

    public void Report(int done, string? note = null)
    {
        lock (_lock)
        {
            // Decide whether to draw before formatting the line: Report runs once per item.
            var fraction = total == 0 ? 1 : Math.Clamp(done / (double)total, 0, 1);
            if (_interactive)
            {
                if (done < total && _clock.ElapsedMilliseconds - _lastDrawMs < 100) return;
                _lastDrawMs = _clock.ElapsedMilliseconds;
                Console.Write("\r" + Line(done, fraction, note));
                if (done >= total) Console.WriteLine();
            }
            else
            {
                var decile = (int)(fraction * 10);
                if (decile == _lastDecile) return;
                _lastDecile = decile;
                Console.WriteLine(Line(done, fraction, note));
            }
        }
    }

    void IProgress<int>.Report(int value) => Report(value);

    private string Line(int done, double fraction, string? note)
    {
        var seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        return $"{label} [{new string('#', (int)(fraction * 30)),-30}] {done}/{total} {done / seconds,7:F0}/s{(note is null ? "" : "  " + note)}";
    }
}

/// <summary>Reports on the caller's thread: Progress&lt;T&gt; posts to the thread pool, where a late report could redraw after the last line.</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
