namespace Dpq.Storage;

/// <summary>
/// The retry budget of every storage client: bounded exponential backoff between tries, and a timeout on
/// each try, so a hung connection costs at most (MaxRetries + 1) x NetworkTimeout plus the delays.
/// </summary>
public sealed record StorageRetry(int MaxRetries, TimeSpan Delay, TimeSpan MaxDelay, TimeSpan NetworkTimeout)
{
    public static StorageRetry Default { get; } = new(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30));
}
