using Dpq.Ingest;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>A pass that takes longer than its messages' visibility timeout keeps them: nobody else receives them meanwhile.</summary>
public sealed class LeaseTests
{
    private static readonly TimeSpan Visibility = TimeSpan.FromSeconds(3);

    [StorageFact]
    public async Task APassThatOutlivesTheVisibilityTimeoutKeepsItsMessagesAndDeletesThemAtTheEnd()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var slow = new SlowRequests("/" + p.Storage.Names.ImagesContainer + "/", TimeSpan.FromSeconds(8));
        using var worker = p.Twin([slow], s => s.AddSingleton(p.Options with { VisibilityTimeout = Visibility }));
        await p.IngestAsync([0, 1]);

        var pass = worker.Drainer.DrainOnceAsync();
        var seenByOthers = 0;
        var queue = p.Storage.Queue(p.Storage.Names.EncodeQueue);
        while ((await queue.PeekMessagesAsync()).Value.Length > 0) await Task.Delay(20); // until the worker holds them
        while (!pass.IsCompleted)
        {
            // Another worker polling meanwhile: it must get nothing (it would hold what it got only briefly).
            seenByOthers += (await queue.ReceiveMessagesAsync(32, TimeSpan.FromMilliseconds(1000))).Value.Length;
            await Task.Delay(200);
        }
        var result = await pass;

        Assert.Equal(0, seenByOthers);
        Assert.Equal((2, 2), (result.Received, result.Indexed));
        Assert.Equal(2, (await p.CodeRowsAsync()).Count);
        await Task.Delay(Visibility + TimeSpan.FromMilliseconds(500));
        Assert.Equal(0, (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }

    [StorageFact]
    public async Task ARenewedMessageKeepsItsContentAndReappearsWhenItsWorkerStops()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var slow = new SlowRequests("/" + p.Storage.Names.ImagesContainer + "/", TimeSpan.FromSeconds(30));
        using var worker = p.Twin([slow], s => s.AddSingleton(p.Options with { VisibilityTimeout = Visibility }));
        await p.IngestAsync([3]);
        var queue = p.Storage.Queue(p.Storage.Names.EncodeQueue);
        var body = (await queue.PeekMessagesAsync()).Value.Single().Body.ToString();

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4)); // the worker dies after its lease was renewed a few times
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => worker.Drainer.DrainOnceAsync(stop.Token));
        await Task.Delay(Visibility + TimeSpan.FromMilliseconds(500));

        var again = Assert.Single((await queue.ReceiveMessagesAsync(32)).Value);
        Assert.Equal(body, again.Body.ToString());
        Assert.Equal(2, again.DequeueCount); // received once before, by the worker that stopped
    }
}
