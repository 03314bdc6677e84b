using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.Query;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dpq.Integration.Tests;

/// <summary>The bulk path: imports container + packed encode messages -> the same worker, rows and queries.</summary>
public sealed class BulkImportTests
{
    [StorageFact]
    public async Task ImportedImagesAreIndexedUnderTheirImportNamesWithFewMessages()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        const int n = 150;
        var imported = await BulkImporter.ImportAsync(p.Storage, TinyModel.TestImages, [.. Enumerable.Range(0, n)], Images.Name, 8, null,
            TimeProvider.System, requestsPerMessage: 64);
        Assert.Equal(n, imported.Count);
        var queue = p.Storage.Queue(p.Storage.Names.EncodeQueue);
        var messages = (await queue.PeekMessagesAsync(32)).Value;
        Assert.Equal(3, messages.Length); // 64 + 64 + 22
        Assert.Equal(n, messages.Sum(m => EncodeMessage.Parse(m.Body.ToString()).Count));
        Assert.False(await p.Storage.Container(p.Storage.Names.ImagesContainer).GetBlobsAsync().AnyAsync()); // nothing for the trigger

        var drained = await p.DrainAllAsync();
        Assert.Equal(n, drained.Indexed);
        Assert.Empty((await queue.PeekMessagesAsync()).Value);
        var rows = await p.CodeRowsAsync();
        Assert.Equal(n, rows.Count);
        Assert.All(rows, r => Assert.StartsWith(ImageLocation.ImportsPrefix, r.GetString("BlobName"), StringComparison.Ordinal));
        Assert.All(rows, r => Assert.Equal(
            TinyModel.TestImages.ClassNameOf(int.Parse(r.GetString("BlobName")[(ImageLocation.ImportsPrefix.Length + 12)..^4], System.Globalization.CultureInfo.InvariantCulture)),
            r.GetString("Label")));

        // Found by its import name, and named that way in answers.
        var name = ImageLocation.ForImport(Images.Name(5));
        var answer = await p.Queries.QueryAsync(new QueryRequest(null, name, null, n, 32, null));
        Assert.Equal(n, answer.Results.Count);
        Assert.Contains(answer.Results, h => h.BlobName == name && h.Id == ImageId.FromBlobName(name).ToString());

        // Importing the same images again stores and enqueues nothing.
        var again = await BulkImporter.ImportAsync(p.Storage, TinyModel.TestImages, [.. Enumerable.Range(0, n)], Images.Name, 8, null, TimeProvider.System);
        Assert.Empty(again);
        Assert.Empty((await queue.PeekMessagesAsync()).Value);
    }

    [StorageFact]
    public async Task LongNonAsciiNamesSplitMessagesBySizeAndAllAreIndexed()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        // 400 CJK characters: about 2.4 KB of JSON per request, so 128 would not fit in a message.
        static string Name(int i) => $"{new string('\u6587', 400)}/{i:000}.png";
        var imported = await BulkImporter.ImportAsync(p.Storage, TinyModel.TestImages, [.. Enumerable.Range(0, 40)], Name, 8, null,
            TimeProvider.System, requestsPerMessage: EncodeMessage.MaxRequests);
        Assert.Equal(40, imported.Count);
        var messages = (await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync(32)).Value;
        Assert.True(messages.Length >= 2, $"{messages.Length} message(s)");
        Assert.Equal(40, messages.Sum(m => EncodeMessage.Parse(m.Body.ToString()).Count));
        Assert.Equal(40, (await p.DrainAllAsync()).Indexed);
        Assert.Contains(await p.CodeRowsAsync(), r => r.GetString("BlobName") == ImageLocation.ForImport(Name(17)));
    }

    [StorageFact]
    public async Task AFolderImportIsIndexedWithItsClassNamesTheTrackerSeesEveryFateAndASecondRunSkipsIt()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var folder = TestScratch.NewDirectory("import");
        string[] classes = ["Ankle boot", "Écharpe"];
        for (var i = 0; i < 6; i++)
        {
            var dir = Directory.CreateDirectory(Path.Combine(folder, classes[i % 2]));
            File.WriteAllBytes(Path.Combine(dir.FullName, $"{i}.png"), Images.Png(TinyModel.TestImages, i));
        }
        // A whole header but a corrupt body: only the worker's decode can refuse it.
        var png = Images.Png(TinyModel.TestImages, 9);
        File.WriteAllBytes(Path.Combine(folder, "Écharpe", "broken.png"), [.. png[..40], .. Enumerable.Repeat((byte)0x5A, 300)]);
        File.WriteAllBytes(Path.Combine(folder, "loose.png"), png);

        var plan = ImportFolder.Scan(folder, FolderLabels.Folders, prefix: "shop");
        Assert.Equal(7, plan.Files.Count);
        Assert.Single(plan.Refused);
        var started = DateTimeOffset.UtcNow.AddSeconds(-1);
        var uploaded = await BulkImporter.ImportAsync(p.Storage, ImportFolder.Items(plan), 4, null, TimeProvider.System);
        Assert.Equal(7, uploaded.Count);
        var model = (await p.Models.GetAsync())!;
        var tracker = new ImportTracker(p.Store, p.Failures, model.ModelVersion, started);
        Assert.Equal(7, (await tracker.CheckAsync(uploaded)).Pending.Count); // nothing indexed before the worker runs

        await p.DrainAllAsync();
        var status = await tracker.CheckAsync(uploaded);
        Assert.Empty(status.Pending);
        Assert.Equal(6, status.Indexed.Count);
        var failure = Assert.Single(status.Failed);
        Assert.Equal(ImageLocation.ForImport("shop/Écharpe/broken.png"), failure.BlobName);
        var rows = await p.CodeRowsAsync();
        Assert.Equal(["Ankle boot", "Ankle boot", "Ankle boot", "Écharpe", "Écharpe", "Écharpe"], rows.Select(r => r.GetString("Label")).Order(StringComparer.Ordinal));
        Assert.Contains(rows, r => r.GetString("BlobName") == ImageLocation.ForImport("shop/Écharpe/1.png"));

        Assert.Empty(await BulkImporter.ImportAsync(p.Storage, ImportFolder.Items(ImportFolder.Scan(folder, FolderLabels.Folders, prefix: "shop")), 4, null, TimeProvider.System));
    }

    [StorageFact]
    public async Task NamesIntakeWouldRefuseAreRefusedBeforeAnythingIsStored()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => BulkImporter.ImportAsync(p.Storage, TinyModel.TestImages, [0, 1, 2],
            i => i == 2 ? "notes.txt" : Images.Name(i), 4, null, TimeProvider.System));
        Assert.Contains("not an accepted image extension", e.Message);
        Assert.False(await p.Storage.Container(p.Storage.Names.ImportsContainer).GetBlobsAsync().AnyAsync());
    }

    [StorageFact]
    public async Task APartlyStoredMessageKeepsOnlyTheRestAndItsPoisonNamesOnlyThat()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var options = p.Options with
        {
            VisibilityTimeout = TimeSpan.FromSeconds(1), RetryDelay = TimeSpan.FromMilliseconds(200), MaxRetryDelay = TimeSpan.FromMilliseconds(200), MaxTransientAttempts = 3,
        };
        var unreadable = ImageLocation.ForImport("flaky/b.png"); // its downloads fail every time on the connection, a fault that is retried
        using var worker = p.Twin([new ConnectionFailures("flaky/")], s => s.AddSingleton(options));
        var drainer = worker.Drainer;
        var imports = p.Storage.Container(p.Storage.Names.ImportsContainer);
        var requests = new List<EncodeRequest>();
        for (var i = 0; i < 3; i++)
        {
            await Images.UploadAsync(imports, TinyModel.TestImages, i);
            requests.Add(EncodeRequest.For(ImageLocation.ForImport(Images.Name(i)), null, Images.Png(TinyModel.TestImages, i).Length, DateTimeOffset.UtcNow));
        }
        requests.Insert(1, EncodeRequest.For(unreadable, null, 100, DateTimeOffset.UtcNow));
        var queue = p.Storage.Queue(p.Storage.Names.EncodeQueue);
        await queue.SendMessageAsync(EncodeMessage.Pack(requests));

        var first = await drainer.DrainOnceAsync();
        Assert.Equal(3, first.Indexed);
        Assert.Equal(1, first.Retried);
        Assert.Equal(3, (await p.CodeRowsAsync()).Count);
        await Task.Delay(1200);
        var left = Assert.Single((await queue.PeekMessagesAsync(32)).Value);
        Assert.Equal([unreadable], EncodeMessage.Parse(left.Body.ToString()).Select(r => r.BlobName));

        for (var pass = 0; pass < 10 && (await queue.PeekMessagesAsync()).Value.Length + (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount > 0; pass++)
        {
            await drainer.DrainOnceAsync();
            await Task.Delay(1100);
        }
        Assert.Equal(0, (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        var failures = await p.Failures.ListAsync();
        var failure = Assert.Single(failures);
        Assert.Equal(unreadable, failure.BlobName);
        Assert.Equal(FailureStage.Poison, failure.Stage);
        Assert.Equal(3, (await p.CodeRowsAsync()).Count);
    }

    [StorageFact]
    public async Task UploadsMayNotTakeImportNamesAndOtherContainersAreRefused()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        await Images.UploadAsync(images, "imports/" + Images.Name(1), Images.Png(TinyModel.TestImages, 1), "3");
        Assert.Equal(IntakeOutcome.Rejected, await p.Intake.HandleBlobAsync(images.GetBlobClient("imports/" + Images.Name(1))));
        Assert.Equal(IntakeOutcome.Rejected, await p.Intake.HandleAsync("elsewhere", "a.png", 100, "image/png", null));

        var failures = (await p.Failures.ListAsync()).ToDictionary(f => f.BlobName);
        Assert.Contains("reserved for bulk imports", failures[$"{p.Storage.Names.ImagesContainer}/imports/{Images.Name(1)}"].Reason);
        Assert.False(failures.ContainsKey("imports/" + Images.Name(1))); // that name is the imported image's
        Assert.Contains("not one the index takes images from", failures["a.png"].Reason);
        Assert.Empty((await p.Storage.Queue(p.Storage.Names.EncodeQueue).PeekMessagesAsync()).Value);
    }
}
