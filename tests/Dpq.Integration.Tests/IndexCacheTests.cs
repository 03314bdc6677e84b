using Microsoft.Extensions.DependencyInjection;
using Dpq.Formats;
using Dpq.Indexing;
using Dpq.Query;
using Dpq.Scan;
using Dpq.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

/// <summary>The query side's view of the index: delta files as written, sealed files after compaction, and only new files downloaded on refresh.</summary>
public sealed class IndexCacheTests
{
    internal static readonly CodeFormat Format = new(256, 4);
    internal const int Shards = 4;

    /// <summary>An image whose class is an integer label, which is a class name like any other.</summary>
    internal static IndexedImage Image(string name, byte seed, int? label) =>
        new(ImageId.FromBlobName(name), name, label?.ToString(System.Globalization.CultureInfo.InvariantCulture), [seed, (byte)(seed + 1), (byte)(seed + 2), (byte)(seed + 3)], null);

    /// <summary>The index of <paramref name="version"/>, with <see cref="Shards"/> shards when it is new.</summary>
    internal static Task<VersionIndex> IndexOf(StorageClients storage, string version) => new IndexStore(storage).OpenOrCreateAsync(version, Shards, Format);

    internal static async Task<string> WriteAsync(StorageClients storage, string version, IReadOnlyList<IndexedImage> images) =>
        await new IndexWriter(TimeProvider.System).WriteAsync(await IndexOf(storage, version), Format, images);

    internal static IndexCache NewCache(StorageClients storage) =>
        new(new IndexStore(storage), new QueryOptions { IndexRefreshInterval = TimeSpan.Zero, IndexRefreshInBackground = false }, TimeProvider.System, NullLogger<IndexCache>.Instance);

    /// <summary>Every visible item of the snapshot: name -> (code, label); fails on a name seen twice.</summary>
    internal static Dictionary<string, (byte[] Code, string? Label)> Items(IndexSnapshot snapshot)
    {
        var items = new Dictionary<string, (byte[], string?)>();
        for (var s = 0; s < snapshot.Segments.Length; s++)
        {
            var segment = snapshot.Segments[s];
            for (var i = 0; i < segment.Count; i++)
            {
                if (snapshot.Hidden.Contains(s, i)) continue;
                var code = new byte[Format.BytesPerCode];
                segment.CopyCode(i, code);
                items.Add(segment.Ids[i], (code, segment.LabelOf(i)));
            }
        }
        Assert.Equal(items.Count, snapshot.Items);
        return items;
    }

    [StorageFact]
    public async Task RefreshesReadOnlyNewFilesAndShowEachImageOnceWithItsNewestCodeBeforeAndAfterCompaction()
    {
        var storage = await Azurite.FreshAsync();
        var cache = NewCache(storage);
        const string version = "m-test-a";
        var first = Enumerable.Range(0, 40).Select(i => Image($"a/{i:000}.png", (byte)i, i % 10)).ToList();
        await WriteAsync(storage, version, first);

        var coldSnapshot = await cache.GetAsync(version, Format);
        Assert.Equal(1, coldSnapshot.SegmentsRead);
        var cold = Items(coldSnapshot);
        Assert.Equal(40, cold.Count);
        Assert.Equal(first[7].Code, cold["a/007.png"].Code);
        Assert.Equal("7", cold["a/007.png"].Label);

        // New images, and image 7 written again with another code and no label: one new file read.
        var second = Enumerable.Range(40, 25).Select(i => Image($"a/{i:000}.png", (byte)i, i % 10)).Append(Image("a/007.png", 200, null)).ToList();
        await WriteAsync(storage, version, second);
        var warmSnapshot = await cache.GetAsync(version, Format);
        Assert.Equal(1, warmSnapshot.SegmentsRead);
        var warm = Items(warmSnapshot);
        Assert.Equal(65, warm.Count);
        Assert.Equal(new byte[] { 200, 201, 202, 203 }, warm["a/007.png"].Code);
        Assert.Null(warm["a/007.png"].Label);
        Assert.Equal(first[8].Code, warm["a/008.png"].Code);

        // Nothing written: nothing read.
        Assert.Equal(0, (await cache.GetAsync(version, Format)).SegmentsRead);

        // Compaction: the same items, now from sealed shard files, and the deltas gone.
        var compactor = CoreServices.Create(storage).GetRequiredService<DeltaCompactor>();
        var result = await compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero);
        Assert.Equal(2, result.DeltasMerged);
        Assert.Equal(Shards, result.ShardsRewritten);
        Assert.Equal(65, result.Items);
        var compactedSnapshot = await cache.GetAsync(version, Format);
        Assert.Equal(Shards, compactedSnapshot.SegmentsRead);
        Assert.Equal(Shards, compactedSnapshot.Segments.Length);
        AssertSame(warm, Items(compactedSnapshot));

        // Image 8 rewritten after compaction: its sealed copy is hidden, its new code shown.
        await WriteAsync(storage, version, [Image("a/008.png", 99, 4), Image("a/900.png", 90, 3)]);
        var rewritten = await cache.GetAsync(version, Format);
        Assert.Equal(1, rewritten.Hidden.Count);
        var after = Items(rewritten);
        Assert.Equal(66, after.Count);
        Assert.Equal(new byte[] { 99, 100, 101, 102 }, after["a/008.png"].Code);
        Assert.Equal("4", after["a/008.png"].Label);

        // A new cache that loads everything at once agrees; another version's writes are not this version's.
        AssertSame(after, Items(await NewCache(storage).GetAsync(version, Format)));
        await WriteAsync(storage, "m-test-b", [Image("b/only.png", 9, 1)]);
        Assert.DoesNotContain("b/only.png", Items(await cache.GetAsync(version, Format)).Keys);
        Assert.Equal(["b/only.png"], Items(await cache.GetAsync("m-test-b", Format)).Keys);
    }

    [StorageTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ADamagedOrLostSegmentFileLeavesANewHostAnsweringFromTheCodesTableAndAHostThatHeldTheIndexKeepsIt(bool lost)
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-c";
        await WriteAsync(storage, version, [Image("c/1.png", 1, 1), Image("c/2.png", 2, 2)]);
        var cache = NewCache(storage);
        Assert.Equal(2, (await cache.GetAsync(version, Format)).Items);

        var key = await new IndexWriter(TimeProvider.System).WriteAsync(await IndexOf(storage, version), Format, [Image("c/3.png", 3, 3), Image("c/1.png", 4, 1)]);
        var blob = storage.Container(storage.Names.SegmentsContainer).GetBlobClient(SegmentEntry.BlobNameFor(version, key));
        if (lost) await blob.DeleteAsync(); // and no worker runs to repair it
        else await RewriteBlobAsync(blob, bytes => bytes[^1] ^= 0xFF); // the checksum no longer matches

        var fresh = await NewCache(storage).GetAsync(version, Format); // a host started now
        var items = Items(fresh);
        Assert.Equal(["c/1.png", "c/2.png", "c/3.png"], items.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new byte[] { 4, 5, 6, 7 }, items["c/1.png"].Code); // the newest code, as the rows hold it
        var stale = await cache.GetAsync(version, Format); // the loaded index keeps answering
        Assert.Equal(2, stale.Items);
    }

    [StorageFact]
    public async Task ADueRefreshOfTheHeldVersionRunsInTheBackgroundWhileQueriesKeepTheHeldIndex()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-p";
        await WriteAsync(storage, version, [Image("p/1.png", 1, 1)]);
        var cache = new IndexCache(new IndexStore(storage), new QueryOptions { IndexRefreshInterval = TimeSpan.Zero }, TimeProvider.System, NullLogger<IndexCache>.Instance);
        Assert.Equal(1, (await cache.GetAsync(version, Format)).Items); // a first load is waited for

        await WriteAsync(storage, version, [Image("p/2.png", 2, 2)]);
        var held = await cache.GetAsync(version, Format); // due: answered from what is held, refresh started
        Assert.Equal(1, held.Items);
        await cache.WaitForBackgroundRefreshAsync();
        var refreshed = await cache.GetAsync(version, Format); // the background refresh's result (and another one started)
        Assert.Equal(2, refreshed.Items);
        Assert.Equal(["p/1.png", "p/2.png"], Items(refreshed).Keys.Order(StringComparer.Ordinal));

        // Another version is never answered from the held one: its first load is waited for.
        await WriteAsync(storage, "m-test-p2", [Image("p2/1.png", 3, 3)]);
        Assert.Equal(["p2/1.png"], Items(await cache.GetAsync("m-test-p2", Format)).Keys);
        await cache.WaitForBackgroundRefreshAsync();
    }

    /// <summary>Downloads <paramref name="blob"/>, lets <paramref name="edit"/> change its bytes, and stores them back.</summary>
    internal static async Task RewriteBlobAsync(Azure.Storage.Blobs.BlobClient blob, Action<byte[]> edit)
    {
        var bytes = (await blob.DownloadContentAsync()).Value.Content.ToArray();
        edit(bytes);
        await blob.UploadAsync(new BinaryData(bytes), overwrite: true);
    }

    internal static void AssertSame(Dictionary<string, (byte[] Code, string? Label)> expected, Dictionary<string, (byte[] Code, string? Label)> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected, kv =>
        {
            Assert.Equal(kv.Value.Code, actual[kv.Key].Code);
            Assert.Equal(kv.Value.Label, actual[kv.Key].Label);
        });
    }
}
