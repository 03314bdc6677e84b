using Azure.Data.Tables;
using Dpq.Storage;

namespace Dpq.Integration.Tests;

public sealed class StorageClientsTests
{
    [StorageFact]
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

    [StorageFact]
    public async Task AnIdentityThatMayOnlyUseTheResourcesStartsAndSaysWhatItCouldNotCreate()
    {
        var owner = await Azurite.FreshAsync();
        // A SAS that may read, write and process but not create, as data roles in Azure allow.
        var sas = new Azure.Storage.Sas.AccountSasBuilder(
            Azure.Storage.Sas.AccountSasPermissions.Read | Azure.Storage.Sas.AccountSasPermissions.Write | Azure.Storage.Sas.AccountSasPermissions.Add
            | Azure.Storage.Sas.AccountSasPermissions.Update | Azure.Storage.Sas.AccountSasPermissions.Process,
            DateTimeOffset.UtcNow.AddHours(1), Azure.Storage.Sas.AccountSasServices.All, Azure.Storage.Sas.AccountSasResourceTypes.Object)
            .ToSasQueryParameters(new Azure.Storage.StorageSharedKeyCredential(Azurite.AccountName, Azurite.AccountKey)).ToString();
        var limited = new StorageClients(Azurite.WithSas(sas), owner.Names with { ImagesContainer = owner.Names.ImagesContainer + "x" });

        var refused = await limited.EnsureCreatedAsync();

        Assert.Equal([limited.Names.ImagesContainer], refused.Where(n => n.StartsWith(owner.Names.ImagesContainer, StringComparison.Ordinal)));
        Assert.False(await owner.Container(limited.Names.ImagesContainer).ExistsAsync());
        await limited.Queue(limited.Names.EncodeQueue).SendMessageAsync("still usable");
        Assert.Single((await owner.Queue(owner.Names.EncodeQueue).PeekMessagesAsync()).Value);
    }

    [StorageFact]
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

    [StorageFact]
    public async Task QueueMessagesRoundTripAsBase64Text()
    {
        var clients = await Azurite.FreshAsync();
        var queue = clients.Queue(clients.Names.EncodeQueue);
        await queue.SendMessageAsync("{\"blob\":\"a.png\"}");
        var received = await queue.ReceiveMessageAsync();
        Assert.Equal("{\"blob\":\"a.png\"}", received.Value.Body.ToString());
    }
}
