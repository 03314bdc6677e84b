using Azure.Core;
using Azure.Core.Pipeline;

namespace Dpq.Cli.Faults;

/// <summary>The share of tries each fault hits; they exclude each other (one draw per try), the rest pass untouched.</summary>
public sealed record FaultRates(double Drop, double ServerError, double Delay, TimeSpan MaxDelay)
{
    public void Check()
    {
        foreach (var (name, rate) in new[] { ("--drop-rate", Drop), ("--error-rate", ServerError), ("--delay-rate", Delay) })
            if (rate is < 0 or > 1 || !double.IsFinite(rate)) throw new UsageException($"{name} must be from 0 to 1 (got {rate})");
        if (Drop + ServerError + Delay > 1) throw new UsageException("the drop, error and delay rates add up to more than 1");
    }
}

/// <summary>What <see cref="FaultInjectionPolicy"/> did, counted over every try it saw.</summary>
public sealed record FaultCounts(long Tries, long DroppedBeforeSend, long DroppedAfterAnswer, long ServerErrors, long Delayed);

/// <summary>
/// Storage as a bad network and a busy service make it, on every try of every request (the SDK's retry policy
/// sees each fault, as it would a real one): a connection reset, half of them before the request is sent and
/// half after the service answered (so the service did the work and the client never learns it: a write
/// repeated by the retry, a message received and never seen); a 503 answered without sending; or a delay
/// before sending, up to <see cref="FaultRates.MaxDelay"/>. Decisions come from one seeded generator, so a
/// run's fault pattern depends only on the seed and the order of requests. Off (<see cref="Enabled"/>), every
/// request passes.
/// </summary>
public sealed class FaultInjectionPolicy(FaultRates rates, int seed) : HttpPipelinePolicy
{
    private enum Fault { None, DropBefore, DropAfter, ServerError, Delay }

    private readonly Random _random = new(seed);
    private readonly Lock _lock = new();
    private long _tries, _droppedBefore, _droppedAfter, _serverErrors, _delayed;

    public bool Enabled { get; set; }

    public FaultCounts Counts => new(Interlocked.Read(ref _tries), Interlocked.Read(ref _droppedBefore), Interlocked.Read(ref _droppedAfter),
        Interlocked.Read(ref _serverErrors), Interlocked.Read(ref _delayed));

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        ProcessAsync(message, pipeline).AsTask().GetAwaiter().GetResult();

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        var (fault, delay) = Draw();
        switch (fault)
        {
            case Fault.DropBefore:
                throw new IOException("connection reset before the request was sent (injected)");
            case Fault.ServerError:
                message.Response = new InjectedResponse(503);
                return;
            case Fault.Delay:
                await Task.Delay(delay, message.CancellationToken);
                break;
        }
        await ProcessNextAsync(message, pipeline);
        if (fault == Fault.DropAfter)
        {
            // The service has done the work; the answer is lost on the way back.
            message.Response?.Dispose();
            throw new IOException("connection reset after the service answered (injected)");
        }
    }

    private (Fault Fault, TimeSpan Delay) Draw()
    {
        if (!Enabled) return (Fault.None, default);
        Interlocked.Increment(ref _tries);
        double x, d;
        lock (_lock) (x, d) = (_random.NextDouble(), _random.NextDouble());
        if (x < rates.Drop)
        {
            if (d < 0.5)
            {
                Interlocked.Increment(ref _droppedBefore);
                return (Fault.DropBefore, default);
            }
            Interlocked.Increment(ref _droppedAfter);
            return (Fault.DropAfter, default);
        }
        if ((x -= rates.Drop) < rates.ServerError)
        {
            Interlocked.Increment(ref _serverErrors);
            return (Fault.ServerError, default);
        }
        if (x - rates.ServerError < rates.Delay)
        {
            Interlocked.Increment(ref _delayed);
            return (Fault.Delay, rates.MaxDelay * d);
        }
        return (Fault.None, default);
    }

    /// <summary>An answer made up here: a status and an empty body, as a storage front end under load gives.</summary>
    private sealed class InjectedResponse(int status) : Azure.Response
    {
        public override int Status => status;
        public override string ReasonPhrase => "Server Busy (injected)";
        // The transport marks real answers as errors from their status; this one never meets the transport, and
        // the retry policy retries only answers so marked.
        public override bool IsError => true;
        public override Stream? ContentStream { get; set; } = new MemoryStream();
        public override string ClientRequestId { get; set; } = "";
        public override void Dispose() => ContentStream?.Dispose();
        protected override bool ContainsHeader(string name) => false;
        protected override IEnumerable<HttpHeader> EnumerateHeaders() => [];
        protected override bool TryGetHeader(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) { value = null; return false; }
        protected override bool TryGetHeaderValues(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IEnumerable<string>? values) { values = null; return false; }
    }
}
