using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Query;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

/// <summary>The query side's view of the codes table: a first whole load, then refreshes that merge what was written since.</summary>
public sealed class IndexCacheTests
{
    private static readonly CodeFormat Format = new(256, 4);
    private const int Shards = 4;

    private static IndexedImage Image(string name, byte seed, int? label) =>
        new(ImageId.FromBlobName(name), name, label, [seed, (byte)(seed + 1), (byte)(seed + 2), (byte)(seed + 3)], null);

    private static async Task WriteAsync(Dpq.Storage.StorageClients storage, string version, IReadOnlyList<IndexedImage> images)
    {
        var shards = await new CodeTable(storage.Table(storage.Names.CodesTable)).WriteAsync(version, Shards, images);
        await new ShardManifest(storage.Table(storage.Names.ManifestsTable)).BumpAsync(version, Shards, shards, TimeProvider.System);
    }

    /// <summary>Every item of the snapshot: name -> (code, label); fails on a name held twice.</summary>
    private static Dictionary<string, (byte[] Code, byte Label)> Items(IndexSnapshot snapshot)
    {
        var items = new Dictionary<string, (byte[], byte)>();
        foreach (var segment in snapshot.Segments)
        {
            for (var i = 0; i < segment.Count; i++)
            {
                var code = new byte[Format.BytesPerCode];
                segment.CopyCode(i, code);
                items.Add(segment.Ids[i], (code, segment.Labels[i]));
            }
        }
        return items;
    }

    [Fact]
    public async Task RefreshesMergeNewAndRewrittenRowsWithoutDuplicatesAndNeverMixVersions()
    {
        var storage = await Azurite.FreshAsync();
        var options = new QueryOptions { IndexRefreshInterval = TimeSpan.Zero, IndexWriteSkew = TimeSpan.Zero };
        var cache = new IndexCache(storage, options, TimeProvider.System, NullLogger<IndexCache>.Instance);
        const string version = "m-test-a";
        var first = Enumerable.Range(0, 40).Select(i => Image($"a/{i:000}.png", (byte)i, i % 10)).ToList();
        await WriteAsync(storage, version, first);

        var coldSnapshot = await cache.GetAsync(version, Format);
        Assert.Equal(40, coldSnapshot.RowsRead);
        var cold = Items(coldSnapshot);
        Assert.Equal(40, cold.Count);
        Assert.Equal(first[7].Code, cold["a/007.png"].Code);
        Assert.Equal(7, cold["a/007.png"].Label);

        // New images, and image 7 written again with another code and no label.
        await Task.Delay(100); // later row timestamps than the first batch's
        var second = Enumerable.Range(40, 25).Select(i => Image($"a/{i:000}.png", (byte)i, i % 10)).Append(Image("a/007.png", 200, null)).ToList();
        await WriteAsync(storage, version, second);
        var warmSnapshot = await cache.GetAsync(version, Format);
        // Read: the 26 rows just written, plus any of the first batch that share its newest timestamp;
        // far from all 65. The other 39 items come from the held segments.
        Assert.InRange(warmSnapshot.RowsRead, 26, 39);
        var warm = Items(warmSnapshot);
        Assert.Equal(65, warm.Count);
        Assert.Equal(new byte[] { 200, 201, 202, 203 }, warm["a/007.png"].Code);
        Assert.Equal(IndexCache.NoLabel, warm["a/007.png"].Label);
        Assert.Equal(first[8].Code, warm["a/008.png"].Code);

        // Nothing written: nothing read; a new cache that loads everything at once agrees.
        var idle = await cache.GetAsync(version, Format);
        Assert.Equal(0, idle.RowsRead);
        Assert.Equal(65, Items(idle).Count);
        var fresh = new IndexCache(storage, new QueryOptions(), TimeProvider.System, NullLogger<IndexCache>.Instance);
        var whole = Items(await fresh.GetAsync(version, Format));
        Assert.Equal(whole.Keys.Order(), warm.Keys.Order());
        Assert.All(whole, kv => Assert.Equal(kv.Value.Code, warm[kv.Key].Code));

        // Another version's rows, written before this version's next ones, are not read as this version's.
        await Task.Delay(100);
        await WriteAsync(storage, "m-test-b", [Image("b/only.png", 9, 1)]);
        await WriteAsync(storage, version, [Image("a/900.png", 90, 3)]);
        var after = Items(await cache.GetAsync(version, Format));
        Assert.Equal(66, after.Count);
        Assert.DoesNotContain("b/only.png", after.Keys);
        Assert.Equal(["b/only.png"], Items(await cache.GetAsync("m-test-b", Format)).Keys);
    }
}
