using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;
using static Dpq.Integration.Tests.IndexCacheTests;

namespace Dpq.Integration.Tests;

/// <summary>Compaction changes how the index is stored, never what it holds.</summary>
public sealed class SegmentCompactorTests
{
    /// <summary>The index jobs, as AddDpqCore wires them.</summary>
    private sealed record Jobs(DeltaCompactor Compactor, IndexRepair Repair, OrphanSweeper Sweeper);

    private static Jobs NewJobs(StorageClients storage)
    {
        var services = CoreServices.Create(storage);
        return new(services.GetRequiredService<DeltaCompactor>(), services.GetRequiredService<IndexRepair>(), services.GetRequiredService<OrphanSweeper>());
    }

    private static async Task<List<string>> SegmentFilesAsync(StorageClients storage, string version)
    {
        var files = new List<string>();
        await foreach (var (name, _) in (await IndexOf(storage, version)).Files.ListAsync()) files.Add(name);
        return [.. files.Order(StringComparer.Ordinal)];
    }

    private static async Task<List<string>> ListedFilesAsync(StorageClients storage, string version) =>
        [.. (await (await IndexOf(storage, version)).Catalog.ListAsync()).Select(e => e.BlobName).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Once an orphan age has passed (a sweep with no minimum age), every stored segment file of <paramref name="version"/>
    /// is listed, and every listed one stored: files a swap replaced are kept until then, never longer.
    /// </summary>
    private static async Task AssertOnlyListedFilesStoredAsync(StorageClients storage, string version)
    {
        await NewJobs(storage).Sweeper.DeleteOrphansAsync(await IndexOf(storage, version), TimeSpan.FromSeconds(-5));
        Assert.Equal(await ListedFilesAsync(storage, version), await SegmentFilesAsync(storage, version));
    }

    [StorageFact]
    public async Task FilesACompactionReplacedStayReadableForHostsThatListedThemUntilAnOrphanAgeHasPassed()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-r";
        for (var i = 0; i < 3; i++) await WriteAsync(storage, version, [Image($"r/{i}.png", (byte)i, i)]);
        var index = await IndexOf(storage, version);
        var listedBefore = await index.Catalog.ListAsync(); // what a query host read just before the swap

        var jobs = NewJobs(storage);
        Assert.Equal(3, (await jobs.Compactor.CompactOnceAsync(index, settle: TimeSpan.Zero)).DeltasMerged);

        foreach (var entry in listedBefore) Assert.NotNull(await index.Files.ReadAsync(entry.BlobName, Format)); // still there for that host
        Assert.Equal(0, await jobs.Sweeper.DeleteOrphansAsync(index, TimeSpan.FromHours(1)));
        Assert.Equal(3, await jobs.Sweeper.DeleteOrphansAsync(index, TimeSpan.FromSeconds(-5)));
        Assert.All(listedBefore, e => Assert.DoesNotContain(e.BlobName, SegmentFilesAsync(storage, version).Result));
    }

    [StorageFact]
    public async Task DeltasBeyondOneTransactionAreSealedOverSeveralPassesAndLaterRewritesStillWin()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-d";
        // 100 one-image deltas; with 4 shards the first pass can retire 100 - 4 - 1 (the first-seal row) = 95.
        for (var i = 0; i < 100; i++)
            await WriteAsync(storage, version, [Image($"d/{i % 90:000}.png", (byte)i, i % 10)]); // the last 10 rewrite images 0-9
        var before = Items(await NewCache(storage).GetAsync(version, Format));
        Assert.Equal(90, before.Count);
        Assert.Equal(new byte[] { 95, 96, 97, 98 }, before["d/005.png"].Code);

        var jobs = NewJobs(storage);
        Assert.Equal(CompactionResult.Nothing, await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), minDeltas: 101, settle: TimeSpan.Zero));
        var firstPass = await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero);
        Assert.Equal(95, firstPass.DeltasMerged);
        var cache = NewCache(storage);
        var between = await cache.GetAsync(version, Format);
        Assert.Equal(5, between.Hidden.Count); // images 5-9: sealed with their first code, rewritten by the 5 deltas left
        AssertSame(before, Items(between));

        var secondPass = await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero);
        Assert.Equal(5, secondPass.DeltasMerged);
        Assert.Equal(CompactionResult.Nothing, await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero));
        var after = await cache.GetAsync(version, Format);
        Assert.Equal(0, after.Hidden.Count);
        AssertSame(before, Items(after));
        // Only the listed files remain: the merged deltas' and replaced sealed files were deleted.
        await AssertOnlyListedFilesStoredAsync(storage, version);
        Assert.Equal(4, (await ListedFilesAsync(storage, version)).Count);
    }

    [StorageFact]
    public async Task TwoCompactorsAtOnceMergeEachDeltaOnceAndLeaveNoUnlistedFiles()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-e";
        for (var batch = 0; batch < 6; batch++)
            await WriteAsync(storage, version, [.. Enumerable.Range(0, 30).Select(i => Image($"e/{batch}-{i:00}.png", (byte)(batch * 30 + i), i % 10))]);
        var before = Items(await NewCache(storage).GetAsync(version, Format));
        Assert.Equal(180, before.Count);

        var results = await Task.WhenAll(NewJobs(storage).Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero), NewJobs(storage).Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero));
        Assert.Equal(6, results.Sum(r => r.DeltasMerged)); // each delta merged by exactly one of them
        Assert.Equal(1, results.Count(r => r.DeltasMerged > 0));
        AssertSame(before, Items(await NewCache(storage).GetAsync(version, Format)));
        await AssertOnlyListedFilesStoredAsync(storage, version);
    }

    [StorageFact]
    public async Task RowsWrittenBeforeSegmentFilesAreSealedOnceAndThenCompactLikeAnyOther()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-g";
        // An index as the worker wrote it before segment files: rows and shard rows only.
        var legacy = Enumerable.Range(0, 50).Select(i => Image($"g/{i:00}.png", (byte)i, i % 10)).ToList();
        await (await IndexOf(storage, version)).Rows.WriteAsync(legacy);
        Assert.Empty(Items(await NewCache(storage).GetAsync(version, Format)));

        // Two sealings at once: one commits, the other changes nothing.
        var sealedCounts = await Task.WhenAll(NewJobs(storage).Repair.SealTableRowsAsync(await IndexOf(storage, version), Format),
            NewJobs(storage).Repair.SealTableRowsAsync(await IndexOf(storage, version), Format));
        Assert.Equal([0L, 50L], sealedCounts.Order());
        Assert.Equal(0, await NewJobs(storage).Repair.SealTableRowsAsync(await IndexOf(storage, version), Format));
        var cache = NewCache(storage);
        var items = Items(await cache.GetAsync(version, Format)); // fails on an id held twice
        Assert.Equal(50, items.Count);
        Assert.Equal(legacy[7].Code, items["g/07.png"].Code);
        await AssertOnlyListedFilesStoredAsync(storage, version);

        await WriteAsync(storage, version, [Image("g/07.png", 70, 1), Image("g/99.png", 99, 9)]);
        Assert.Equal(1, (await NewJobs(storage).Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero)).DeltasMerged);
        var after = Items(await cache.GetAsync(version, Format));
        Assert.Equal(51, after.Count);
        Assert.Equal(new byte[] { 70, 71, 72, 73 }, after["g/07.png"].Code);

        // A version written through segment files from the start: its rows are not sealed again.
        await WriteAsync(storage, "m-test-g2", [Image("g2/1.png", 1, 1)]);
        Assert.Equal(0, await NewJobs(storage).Repair.SealTableRowsAsync(await IndexOf(storage, "m-test-g2"), Format));
    }

    /// <summary>A clock that moves on by <paramref name="step"/> every time it is read.</summary>
    private sealed class SteppingClock(TimeSpan step) : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;
        public override DateTimeOffset GetUtcNow() => _now += step;
    }

    [StorageFact]
    public async Task RecentDeltasWaitToSettleAndADeltaListedLateIsStoredAgainUnderANewKey()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-h";
        await WriteAsync(storage, version, [Image("h/1.png", 1, 1)]);
        Assert.Equal(CompactionResult.Nothing, await NewJobs(storage).Compactor.CompactOnceAsync(await IndexOf(storage, version))); // keyed just now: not yet
        Assert.Equal(1, (await NewJobs(storage).Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero)).DeltasMerged);

        // Its writer's clock says the upload took longer than MaxKeyAge: the file goes again under a later key.
        var slow = new SteppingClock(IndexWriter.MaxKeyAge + TimeSpan.FromSeconds(1));
        var key = await new IndexWriter(slow).WriteAsync(await IndexOf(storage, version), Format, [Image("h/2.png", 2, 2)]);
        var delta = Assert.Single(await (await IndexOf(storage, version)).Catalog.ListAsync(), e => e.Kind == SegmentKind.Delta);
        Assert.Equal(key, delta.Key);
        Assert.True(SegmentCatalog.DeltaTime(key) > DateTimeOffset.UtcNow + IndexWriter.MaxKeyAge); // the second key, not the first
        await AssertOnlyListedFilesStoredAsync(storage, version);
        Assert.Equal(2, Items(await NewCache(storage).GetAsync(version, Format)).Count);
    }

    [StorageFact]
    public async Task UnlistedFilesAreDeletedOnlyOnceOldEnough()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-f";
        await WriteAsync(storage, version, [Image("f/1.png", 1, 1)]);
        var stray = storage.Container(storage.Names.SegmentsContainer).GetBlobClient($"{version}/seg-d-0000000000000000001-stray.dpqs");
        await stray.UploadAsync(new BinaryData("left by a crashed writer"u8.ToArray()));
        var jobs = NewJobs(storage);

        Assert.Equal(0, await jobs.Sweeper.DeleteOrphansAsync(await IndexOf(storage, version), TimeSpan.FromHours(1)));
        Assert.True((await stray.ExistsAsync()).Value);
        Assert.Equal(1, await jobs.Sweeper.DeleteOrphansAsync(await IndexOf(storage, version), TimeSpan.FromSeconds(-5)));
        Assert.False((await stray.ExistsAsync()).Value);
        await AssertOnlyListedFilesStoredAsync(storage, version);
        Assert.Single(Items(await NewCache(storage).GetAsync(version, Format)));
    }

    [StorageFact]
    public async Task ALostDeltaIsRebuiltFromTheCodesTableWithEveryImagesNewestCode()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-i";
        await WriteAsync(storage, version, [.. Enumerable.Range(0, 12).Select(i => Image($"i/{i:00}.png", (byte)i, i % 10))]);
        var jobs = NewJobs(storage);
        Assert.Equal(1, (await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero)).DeltasMerged);
        // Image 5 rewritten: its new code only in this delta (and the table); the sealed file has the old one.
        await WriteAsync(storage, version, [Image("i/05.png", 50, 5), Image("i/12.png", 12, 2)]);
        var expected = Items(await NewCache(storage).GetAsync(version, Format));
        var catalog = (await IndexOf(storage, version)).Catalog;
        var lost = Assert.Single(await catalog.ListAsync(), e => e.Kind == SegmentKind.Delta);
        await storage.Container(storage.Names.SegmentsContainer).GetBlobClient(lost.BlobName).DeleteAsync(); // by hand
        AssertSame(expected, Items(await NewCache(storage).GetAsync(version, Format))); // a new host answers from the rows meanwhile

        var pass = await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero);
        Assert.Equal(new CompactionResult(0, 0, 0, Conflict: false, LostFiles: 1), pass);
        Assert.Equal(1, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: false));
        var rebuilt = Items(await NewCache(storage).GetAsync(version, Format));
        AssertSame(expected, rebuilt);
        Assert.Equal(new byte[] { 50, 51, 52, 53 }, rebuilt["i/05.png"].Code);
        Assert.All(await catalog.ListAsync(), e => Assert.Equal(SegmentKind.Sealed, e.Kind));
        await AssertOnlyListedFilesStoredAsync(storage, version);
        Assert.Equal(0, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: true));
    }

    [StorageFact]
    public async Task SweepsFindFilesThatAreGoneOrFailTheirChecksumAndRebuildWithNothingLost()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-j";
        for (var d = 0; d < 3; d++) await WriteAsync(storage, version, [.. Enumerable.Range(0, 4).Select(i => Image($"j/{d}-{i}.png", (byte)(4 * d + i), i))]);
        var jobs = NewJobs(storage);
        Assert.Equal(3, (await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero)).DeltasMerged);
        await WriteAsync(storage, version, [Image("j/9.png", 9, 9)]);
        var expected = Items(await NewCache(storage).GetAsync(version, Format));
        Assert.Equal(13, expected.Count);
        Assert.Equal(0, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: true)); // all whole: nothing done
        var catalog = (await IndexOf(storage, version)).Catalog;
        var before = await catalog.ListAsync();

        var segments = storage.Container(storage.Names.SegmentsContainer);
        var damaged = segments.GetBlobClient(before.First(e => e.Kind == SegmentKind.Sealed).BlobName);
        await RewriteBlobAsync(damaged, bytes => bytes[^1] ^= 0xFF);
        Assert.Equal(0, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: false)); // the listing cannot tell
        Assert.Equal(1, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: true));
        AssertSame(expected, Items(await NewCache(storage).GetAsync(version, Format)));
        Assert.DoesNotContain((await catalog.ListAsync()).Select(e => e.Key), before.Select(e => e.Key).Contains);

        var gone = (await catalog.ListAsync())[0];
        await segments.GetBlobClient(gone.BlobName).DeleteAsync();
        Assert.Equal(1, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: false));
        AssertSame(expected, Items(await NewCache(storage).GetAsync(version, Format)));
        await AssertOnlyListedFilesStoredAsync(storage, version);
    }

    [StorageFact]
    public async Task AWholeFileThisBuildCannotReadIsNeverReplacedAndThePassFailsLoudly()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-k";
        var key = await new IndexWriter(TimeProvider.System).WriteAsync(await IndexOf(storage, version), Format, [Image("k/1.png", 1, 1)]);
        // As a newer build would write it: format version CurrentVersion + 1, checksum recomputed, so the file is whole.
        var blob = storage.Container(storage.Names.SegmentsContainer).GetBlobClient(SegmentEntry.BlobNameFor(version, key));
        await RewriteBlobAsync(blob, bytes =>
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(Dpq.Formats.ShardSegmentFormat.FieldLocations.FormatVersion), Dpq.Formats.ShardSegmentFormat.CurrentVersion + 1);
            var body = bytes.Length - Dpq.Formats.ShardSegmentFormat.ChecksumLength;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(body), System.IO.Hashing.XxHash64.HashToUInt64(bytes.AsSpan(0, body)));
        });

        var jobs = NewJobs(storage);
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero));
        Assert.Contains($"version {Dpq.Formats.ShardSegmentFormat.CurrentVersion + 1} is not supported", error.Message);
        Assert.Equal(0, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: true));
        Assert.Equal([SegmentEntry.BlobNameFor(version, key)], await ListedFilesAsync(storage, version));
    }

    /// <summary>A current file as the version 1 writer wrote it: no copy-code field or reserved bytes, no label names, each label byte its own (integer) name.</summary>
    private static byte[] AsVersionOne(byte[] file)
    {
        const int Removed = 16; // the copy-code field, the label names length, the reserved bytes and the removed-id counts
        var segment = Dpq.Formats.ShardSegmentReader.Read(file);
        Assert.False(segment.HasCopyCodes);
        var namesLength = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(Dpq.Formats.ShardSegmentFormat.FieldLocations.LabelNamesLength));
        var headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(Dpq.Formats.ShardSegmentFormat.FieldLocations.HeaderLength));
        var labelsAt = headerLength + Dpq.Formats.FrontCodedIds.BlockCount(segment.Count) * sizeof(int) + segment.Ids.Blob.Length;
        var withoutNames = file[..(file.Length - Dpq.Formats.ShardSegmentFormat.ChecksumLength - namesLength)];
        for (var i = 0; i < segment.Count; i++)
            withoutNames[labelsAt + i] = segment.LabelOf(i) is { } name ? byte.Parse(name, System.Globalization.CultureInfo.InvariantCulture) : Dpq.Formats.ShardSegmentFormat.NoLabel;
        var at = Dpq.Formats.ShardSegmentFormat.FieldLocations.ModelVersion1;
        byte[] old = [.. withoutNames.AsSpan(0, at), .. withoutNames.AsSpan(at + Removed), .. new byte[Dpq.Formats.ShardSegmentFormat.ChecksumLength]];
        var h = old.AsSpan();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(h[Dpq.Formats.ShardSegmentFormat.FieldLocations.FormatVersion..], 1);
        var headerAt = Dpq.Formats.ShardSegmentFormat.FieldLocations.HeaderLength;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(h[headerAt..], (ushort)(headerLength - Removed));
        var lengthAt = Dpq.Formats.ShardSegmentFormat.FieldLocations.FileLength;
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(h[lengthAt..], old.Length);
        var body = old.Length - Dpq.Formats.ShardSegmentFormat.ChecksumLength;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(h[body..], System.IO.Hashing.XxHash64.HashToUInt64(h[..body]));
        return old;
    }

    [StorageFact]
    public async Task SealedFilesOfVersionOneAreRewrittenInTheCurrentVersionWithTheSameItems()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-v";
        for (var i = 0; i < 12; i++) await WriteAsync(storage, version, [Image($"v/{i:00}.png", (byte)i, i % 10)]);
        var jobs = NewJobs(storage);
        await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero);
        var sealedFiles = await ListedFilesAsync(storage, version);
        var segments = storage.Container(storage.Names.SegmentsContainer);
        foreach (var name in sealedFiles)
        {
            var v1 = AsVersionOne((await segments.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToArray());
            Assert.Equal(1, Dpq.Formats.ShardSegmentReader.Read(v1).FileVersion);
            await segments.GetBlobClient(name).UploadAsync(new BinaryData(v1), overwrite: true);
        }
        var before = Items(await NewCache(storage).GetAsync(version, Format));
        Assert.Equal(12, before.Count);

        Assert.Equal(sealedFiles.Count, await jobs.Compactor.UpgradeSealedAsync(await IndexOf(storage, version), Format));
        var after = await ListedFilesAsync(storage, version);
        Assert.Empty(after.Intersect(sealedFiles));
        foreach (var name in after)
            Assert.Equal(Dpq.Formats.ShardSegmentFormat.CurrentVersion,
                Dpq.Formats.ShardSegmentReader.Read((await segments.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToArray()).FileVersion);
        AssertSame(before, Items(await NewCache(storage).GetAsync(version, Format)));
        await AssertOnlyListedFilesStoredAsync(storage, version);
        Assert.Equal(0, await jobs.Compactor.UpgradeSealedAsync(await IndexOf(storage, version), Format));
    }

    [StorageFact]
    public async Task WhenEveryFileIsLostTheRebuildRestoresTheIndexAndCompactionGoesOn()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-l";
        await WriteAsync(storage, version, [.. Enumerable.Range(0, 16).Select(i => Image($"l/{i:00}.png", (byte)i, i % 10))]);
        var jobs = NewJobs(storage);
        Assert.Equal(1, (await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero)).DeltasMerged);
        await WriteAsync(storage, version, [Image("l/a.png", 20, 1)]);
        var expected = Items(await NewCache(storage).GetAsync(version, Format));
        var segments = storage.Container(storage.Names.SegmentsContainer);
        await foreach (var file in segments.GetBlobsAsync()) await segments.DeleteBlobAsync(file.Name); // the container emptied

        Assert.Equal(Shards + 1, await jobs.Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: false));
        AssertSame(expected, Items(await NewCache(storage).GetAsync(version, Format)));
        // Later writes compact as before (the first sealing's seg-0 row is not added again).
        await WriteAsync(storage, version, [Image("l/03.png", 30, 3)]);
        Assert.Equal(1, (await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero)).DeltasMerged);
        Assert.Equal(0, await jobs.Repair.SealTableRowsAsync(await IndexOf(storage, version), Format)); // not a pre-segment index
        Assert.Equal(new byte[] { 30, 31, 32, 33 }, Items(await NewCache(storage).GetAsync(version, Format))["l/03.png"].Code);
    }

    [StorageFact]
    public async Task ARebuildWithMoreOldDeltasThanOneTransactionRemovesThemAllOldestFirst()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-n";
        // 100 one-image deltas, never compacted; the last 10 rewrite images 0-9. The rebuild's first
        // transaction lists 4 sealed files and removes 95 deltas; the other 5 go after it.
        for (var i = 0; i < 100; i++)
            await WriteAsync(storage, version, [Image($"n/{i % 90:000}.png", (byte)i, i % 10)]);
        var expected = Items(await NewCache(storage).GetAsync(version, Format));
        var catalog = (await IndexOf(storage, version)).Catalog;
        var entries = await catalog.ListAsync();
        await storage.Container(storage.Names.SegmentsContainer).GetBlobClient(entries[^1].BlobName).DeleteAsync();

        Assert.Equal(1, await NewJobs(storage).Repair.RepairLostAsync(await IndexOf(storage, version), Format, verifyContents: false));
        var after = await catalog.ListAsync();
        Assert.Equal(Shards, after.Count);
        Assert.All(after, e => Assert.Equal(SegmentKind.Sealed, e.Kind));
        AssertSame(expected, Items(await NewCache(storage).GetAsync(version, Format)));
        Assert.Equal(new byte[] { 95, 96, 97, 98 }, expected["n/005.png"].Code);
        await AssertOnlyListedFilesStoredAsync(storage, version);
    }

    [StorageFact]
    public async Task ARebuildRefusesACodesTableWithFewerRowsThanTheSealedFilesList()
    {
        var storage = await Azurite.FreshAsync();
        const string version = "m-test-o";
        await WriteAsync(storage, version, [.. Enumerable.Range(0, 8).Select(i => Image($"o/{i}.png", (byte)i, i))]);
        var jobs = NewJobs(storage);
        Assert.Equal(1, (await jobs.Compactor.CompactOnceAsync(await IndexOf(storage, version), settle: TimeSpan.Zero)).DeltasMerged);
        var codes = storage.Table(storage.Names.CodesTable);
        var row = await codes.QueryAsync<Azure.Data.Tables.TableEntity>(maxPerPage: 1).FirstAsync();
        await codes.DeleteEntityAsync(row.PartitionKey, row.RowKey); // a table that lost a row
        var before = await ListedFilesAsync(storage, version);
        var storedBefore = await SegmentFilesAsync(storage, version);

        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await jobs.Repair.RebuildFromTableAsync(await IndexOf(storage, version), Format));
        Assert.Contains("fewer than the 8 items", error.Message);
        Assert.Equal(before, await ListedFilesAsync(storage, version));
        Assert.Equal(storedBefore, await SegmentFilesAsync(storage, version)); // nothing uploaded either
    }
}
