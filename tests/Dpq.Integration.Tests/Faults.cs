using Azure.Core;
using Azure.Core.Pipeline;

namespace Dpq.Integration.Tests;

/// <summary>
/// A pipeline policy that fails every try of every GET (or, with <paramref name="writes"/>, every other
/// method) whose path contains <paramref name="pathPart"/> with a connection error, as a reset
/// connection does; the SDK's retry policy gives up on it with an AggregateException. Other requests
/// pass untouched.
/// </summary>
public sealed class ConnectionFailures(string pathPart, bool enabled = true, bool writes = false) : HttpPipelinePolicy
{
    public int Failed;

    /// <summary>Off: every request passes (switch faults on and off during a test).</summary>
    public bool Enabled { get; set; } = enabled;

    /// <summary>How many matching requests pass before the failures begin.</summary>
    public int PassFirst { get; init; }

    private int _matched;

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Fail(message);
        ProcessNext(message, pipeline);
    }

    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Fail(message);
        return ProcessNextAsync(message, pipeline);
    }

    private void Fail(HttpMessage message)
    {
        if (!Enabled || (message.Request.Method == RequestMethod.Get) == writes || !message.Request.Uri.Path.Contains(pathPart, StringComparison.Ordinal)) return;
        if (Interlocked.Increment(ref _matched) <= PassFirst) return;
        Interlocked.Increment(ref Failed);
        throw new IOException("connection reset (injected by the test)");
    }
}

/// <summary>
/// A pipeline policy that answers every GET whose path contains <paramref name="pathPart"/> with
/// <paramref name="status"/> itself, without sending it, as a storage service in an outage does; the
/// SDK's retry policy tries again and then throws RequestFailedException. Other requests pass.
/// </summary>
public sealed class ServerErrors(string pathPart, int status = 500) : HttpPipelinePolicy
{
    public int Answered;

    public bool Enabled { get; set; } = true;

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        if (Hits(message)) message.Response = new FaultResponse(status);
        else ProcessNext(message, pipeline);
    }

    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        if (!Hits(message)) return ProcessNextAsync(message, pipeline);
        message.Response = new FaultResponse(status);
        return ValueTask.CompletedTask;
    }

    private bool Hits(HttpMessage message)
    {
        if (!Enabled || message.Request.Method != RequestMethod.Get || !message.Request.Uri.Path.Contains(pathPart, StringComparison.Ordinal)) return false;
        Interlocked.Increment(ref Answered);
        return true;
    }

    private sealed class FaultResponse(int status) : Azure.Response
    {
        public override int Status => status;
        public override bool IsError => true; // as the pipeline marks a real 5xx, so the SDK's retry policy retries it
        public override string ReasonPhrase => "Injected by the test";
        public override Stream? ContentStream { get; set; } = new MemoryStream();
        public override string ClientRequestId { get; set; } = "";
        public override void Dispose() => ContentStream?.Dispose();
        protected override bool ContainsHeader(string name) => false;
        protected override IEnumerable<HttpHeader> EnumerateHeaders() => [];
        protected override bool TryGetHeader(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) { value = null; return false; }
        protected override bool TryGetHeaderValues(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IEnumerable<string>? values) { values = null; return false; }
    }
}

/// <summary>
/// The decoder every host uses, except for the images given: for those it throws what <paramref name="fault"/>
/// makes, as a decoder bug or a failed allocation would (switch it off to let them decode).
/// </summary>
public sealed class FaultyDecoder(Func<Exception> fault, params byte[][] images) : Dpq.Imaging.IImageDecoder
{
    public bool Enabled { get; set; } = true;

    public void Decode(Dpq.Imaging.ImagePreprocessor preprocessor, ReadOnlySpan<byte> image, Span<float> pixels)
    {
        foreach (var bad in images)
            if (Enabled && image.SequenceEqual(bad)) throw fault();
        preprocessor.Decode(image, pixels);
    }
}

/// <summary>
/// A pipeline policy that holds every GET (or, with <paramref name="writes"/>, every other method) whose path contains
/// <paramref name="pathPart"/> for <paramref name="delay"/> before sending it, as a slow link does: a hold longer
/// than the clients' network timeout ends that try as a real timeout would.
/// </summary>
public sealed class SlowRequests(string pathPart, TimeSpan delay, bool writes = false) : HttpPipelinePolicy
{
    public bool Enabled { get; set; } = true;

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        if (Hits(message)) Thread.Sleep(delay);
        ProcessNext(message, pipeline);
    }

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        if (Hits(message)) await Task.Delay(delay, message.CancellationToken);
        await ProcessNextAsync(message, pipeline);
    }

    /// <summary>Requests held so far.</summary>
    public int Held => _held;

    private int _held;

    private bool Hits(HttpMessage message)
    {
        if (!Enabled || (message.Request.Method != RequestMethod.Get) != writes || !message.Request.Uri.Path.Contains(pathPart, StringComparison.Ordinal)) return false;
        Interlocked.Increment(ref _held);
        return true;
    }
}

/// <summary>
/// A pipeline policy that sends the first <paramref name="count"/> requests of <paramref name="method"/> whose path
/// contains <paramref name="pathPart"/> and then loses their answers (a connection reset after the service
/// committed), so the SDK's retry repeats a request that already took effect.
/// </summary>
public sealed class LostAnswers(string pathPart, RequestMethod method, int count = 1) : HttpPipelinePolicy
{
    private int _lost;

    /// <summary>Answers lost so far.</summary>
    public int Lost => Math.Min(count, Volatile.Read(ref _lost));

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        ProcessNext(message, pipeline);
        Lose(message);
    }

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        await ProcessNextAsync(message, pipeline);
        Lose(message);
    }

    private void Lose(HttpMessage message)
    {
        if (message.Request.Method != method || !message.Request.Uri.Path.Contains(pathPart, StringComparison.Ordinal)) return;
        if (message.Response.Status >= 400 || Interlocked.Increment(ref _lost) > count) return;
        throw new IOException("connection reset after the request was sent (injected by the test)");
    }
}
