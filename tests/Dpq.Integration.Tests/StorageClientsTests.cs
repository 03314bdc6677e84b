using Azure.Data.Tables;
using Dpq.Storage;

namespace Dpq.Integration.Tests;

public sealed class StorageClientsTests
{
    [Fact]
    public async Task EnsureCreatedMakesEveryResourceAndIsIdempotent()
    {
        var clients = await Azurite.FreshAsync();
        await clients.EnsureCreatedAsync(); // a second time changes nothing and does not throw

        foreach (var c in clients.Names.Containers) Assert.True(await clients.Container(c).ExistsAsync());
        foreach (var q in clients.Names.Queues) Assert.True(await clients.Queue(q).ExistsAsync());
        var tables = new List<string>();
        await foreach (var t in clients.Tables.QueryAsync()) tables.Add(t.Name);
        Assert.Superset(clients.Names.Tables.ToHashSet(), tables.ToHashSet());
    }

    [Fact]
    public async Task FreshSetsDoNotShareData()
    {
        var a = await Azurite.FreshAsync();
        var b = await Azurite.FreshAsync();
        await a.Container(a.Names.ImagesContainer).UploadBlobAsync("x.png", BinaryData.FromBytes([1, 2, 3]));
        await a.Table(a.Names.CodesTable).AddEntityAsync(new TableEntity("p", "r"));

        Assert.NotEqual(a.Names.ImagesContainer, b.Names.ImagesContainer);
        Assert.False(await b.Container(b.Names.ImagesContainer).GetBlobClient("x.png").ExistsAsync());
        Assert.Empty(b.Table(b.Names.CodesTable).Query<TableEntity>().ToList());
    }

    [Fact]
    public async Task QueueMessagesRoundTripAsBase64Text()
    {
        var clients = await Azurite.FreshAsync();
        var queue = clients.Queue(clients.Names.EncodeQueue);
        await queue.SendMessageAsync("{\"blob\":\"a.png\"}");
        var received = await queue.ReceiveMessageAsync();
        Assert.Equal("{\"blob\":\"a.png\"}", received.Value.Body.ToString());
    }
}
