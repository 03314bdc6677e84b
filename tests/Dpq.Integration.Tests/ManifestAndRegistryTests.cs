using Dpq.Indexing;
using Dpq.ModelVersions;
using Dpq.ModelFiles;

namespace Dpq.Integration.Tests;

public sealed class ManifestAndRegistryTests
{
    [Fact]
    public async Task ConcurrentManifestBumpsAreNeverLost()
    {
        var storage = await Azurite.FreshAsync();
        var manifest = new ShardManifest(storage.Table(storage.Names.ManifestsTable));
        // 8 writers bump shard 0 five times each, racing on the row's ETag.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 5; i++) await manifest.BumpAsync("m-test-1", 4, [0], TimeProvider.System);
        })));
        var state = Assert.Single(await manifest.ReadAsync("m-test-1"));
        Assert.Equal(40, state.Generation);
        Assert.Equal(4, state.ShardCount);
        Assert.Empty(await manifest.ReadAsync("m-test-2")); // versions never mix
    }

    [Fact]
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

    [Fact]
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
