namespace Dpq.Integration.Tests;

/// <summary>The real clock, moved ahead (so that fresh blobs count as settled, or a retry is due); settable during a test.</summary>
internal sealed class AheadClock(TimeSpan ahead) : TimeProvider
{
    public TimeSpan Ahead { get; set; } = ahead;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Ahead;
}
