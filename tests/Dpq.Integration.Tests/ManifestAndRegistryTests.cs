using Dpq.Indexing;
using Dpq.ModelVersions;
using Dpq.ModelFiles;

namespace Dpq.Integration.Tests;

public sealed class ManifestAndRegistryTests
{
    private static readonly Dpq.Formats.CodeFormat Format = new(256, 4);

    [StorageFact]
    public async Task TheFirstWriterRecordsAVersionsShardCountAndEveryoneAfterUsesIt()
    {
        var storage = await Azurite.FreshAsync();
        Assert.Null(await new IndexStore(storage).OpenAsync("m-test-1")); // nothing written: no index
        // Eight processes configured with different counts race to be first: they all end up with one.
        var counts = await Task.WhenAll(Enumerable.Range(1, 8).Select(n => Task.Run(async () => (await new IndexStore(storage).OpenOrCreateAsync("m-test-1", n, Format)).ShardCount)));
        Assert.Single(counts.Distinct());
        var recorded = counts[0];
        Assert.Equal(recorded, (await new IndexStore(storage).OpenOrCreateAsync("m-test-1", 99, Format)).ShardCount);
        Assert.Equal(Format, (await new IndexStore(storage).OpenAsync("m-test-1"))!.Format);
        // A model of another code format cannot write into it.
        var other = await Assert.ThrowsAsync<InvalidDataException>(() => new IndexStore(storage).OpenOrCreateAsync("m-test-1", recorded, new Dpq.Formats.CodeFormat(16, 8)));
        Assert.Contains("holds codes of", other.Message);
        Assert.Equal(recorded, (await new IndexStore(storage).OpenAsync("m-test-1"))!.ShardCount);
        Assert.Equal(7, (await new IndexStore(storage).OpenOrCreateAsync("m-test-2", 7, Format)).ShardCount); // versions never mix
    }

    [StorageFact]
    public async Task AVersionWrittenBeforeShardCountsWereRecordedGetsTheCountItsRowsUse()
    {
        var storage = await Azurite.FreshAsync();
        var manifests = storage.Table(storage.Names.ManifestsTable);
        // As older builds left it: per-shard rows beside the segment rows, no layout row.
        await manifests.AddEntityAsync(new Azure.Data.Tables.TableEntity("m-test-3", "s002") { ["Generation"] = 4L, ["ShardCount"] = 6 });
        Assert.Null((await new IndexStore(storage).OpenAsync("m-test-3"))!.Format); // not known until a writer says
        var index = await new IndexStore(storage).OpenOrCreateAsync("m-test-3", 16, Format);
        Assert.Equal(6, index.ShardCount);
        Assert.Equal(new IndexLayout(6, Format, default), (await new SegmentCatalog(manifests, "m-test-3").ReadLayoutAsync())! with { ETag = default }); // now recorded
    }

    [StorageFact]
    public async Task ActivationIsConditionalOnThePointerItWasReadWith()
    {
        var storage = await Azurite.FreshAsync();
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        Assert.Null(await registry.GetActiveAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => registry.ActivateAsync("m-not-published", null));

        var version = await registry.PublishAsync(TinyModel.Directory);
        Assert.Equal(version, await registry.PublishAsync(TinyModel.Directory)); // idempotent
        Assert.True(await registry.ActivateAsync(version, null));
        Assert.False(await registry.ActivateAsync(version, null)); // someone already created the pointer

        var active = await registry.GetActiveAsync();
        Assert.Equal(version, active?.Version);
        Assert.True(await registry.ActivateAsync(version, active));
        Assert.False(await registry.ActivateAsync(version, active)); // stale ETag: refused, nothing changed
    }

    [StorageFact]
    public async Task DownloadedModelsMatchThePublishedFiles()
    {
        var storage = await Azurite.FreshAsync();
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        var version = await registry.PublishAsync(TinyModel.Directory);
        var cache = TestScratch.NewDirectory("cache");
        var dir = await registry.DownloadAsync(version, cache);
        Assert.Equal(dir, await registry.DownloadAsync(version, cache));
        // What serving reads comes down unchanged; the TorchSharp weights stay in storage.
        foreach (var name in new[] { "model.json", "codebooks.dpqc", "feature.onnx" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(TinyModel.Directory, name)), File.ReadAllBytes(Path.Combine(dir, name)));
        Assert.False(File.Exists(Path.Combine(dir, "weights.dat")));
        using var model = ModelFiles.LoadedModel.Open(dir); // verifies the content hashes
        Assert.Equal(version, model.ModelVersion);
    }
}
