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
        Interlocked.Increment(ref Failed);
        throw new IOException("connection reset (injected by the test)");
    }
}
