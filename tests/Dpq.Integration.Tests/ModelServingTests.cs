using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Azure.Storage.Blobs;
using Dpq.ModelFiles;
using Dpq.ModelVersions;

namespace Dpq.Integration.Tests;

/// <summary>Publishing and loading models for ONNX Runtime serving: what is refused, and what a host does with a broken version.</summary>
public sealed class ModelServingTests
{
    /// <summary>A copy of the tiny model as a format-1 folder (trained before the ONNX export existed).</summary>
    private static string WithoutOnnx()
    {
        var dir = CopyOfTinyModel();
        var manifest = ModelFolder.ReadManifest(dir);
        File.Delete(Path.Combine(dir, OnnxInfo.FileName));
        ModelFolder.WriteManifest(dir, manifest with { Format = ModelManifest.FormatWithoutOnnx, Files = manifest.Files with { Onnx = null }, Onnx = null });
        return dir;
    }

    private static string CopyOfTinyModel()
    {
        var dir = TestScratch.NewDirectory("model-copy");
        foreach (var file in Directory.EnumerateFiles(TinyModel.Directory)) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    /// <summary>Stores a folder's files under its version as an older publisher would have, without any check.</summary>
    private static async Task UploadUncheckedAsync(BlobContainerClient models, string dir, string version)
    {
        foreach (var file in Directory.EnumerateFiles(dir))
            await models.GetBlobClient($"{version}/{Path.GetFileName(file)}").UploadAsync(file, overwrite: true);
    }

    [StorageFact]
    public async Task PublishRefusesAModelWithoutItsOnnxFileAndSaysHowToAddIt()
    {
        var storage = await Azurite.FreshAsync();
        var models = storage.Container(storage.Names.ModelsContainer);
        var registry = new ModelRegistry(models);
        var dir = WithoutOnnx();

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => registry.PublishAsync(dir));
        Assert.Contains($"./dpq export-onnx --model {dir}", e.Message);
        Assert.Empty(await models.GetBlobsAsync().ToListAsync()); // nothing stored
    }

    [StorageFact]
    public async Task PublishRefusesADamagedOnnxFile()
    {
        var storage = await Azurite.FreshAsync();
        var models = storage.Container(storage.Names.ModelsContainer);
        var dir = CopyOfTinyModel();
        var path = Path.Combine(dir, OnnxInfo.FileName);
        var bytes = File.ReadAllBytes(path);
        bytes[^10] ^= 1;
        File.WriteAllBytes(path, bytes);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => new ModelRegistry(models).PublishAsync(dir));
        Assert.Contains(path, e.Message);
        Assert.Empty(await models.GetBlobsAsync().ToListAsync());
    }

    [StorageFact]
    public async Task RepublishingAfterTheExportReplacesTheStoredManifestAndHostsDownloadTheNewFiles()
    {
        var storage = await Azurite.FreshAsync();
        var models = storage.Container(storage.Names.ModelsContainer);
        var registry = new ModelRegistry(models);
        var version = ModelFolder.ReadManifest(TinyModel.Directory).Version;
        await UploadUncheckedAsync(models, WithoutOnnx(), version); // published by a build before the ONNX export
        var cache = TestScratch.NewDirectory("cache");
        var stale = await registry.DownloadAsync(version, cache);
        Assert.Throws<InvalidDataException>(() => LoadedModel.Open(stale));

        Assert.Equal(version, await registry.PublishAsync(TinyModel.Directory));
        var fresh = await registry.DownloadAsync(version, cache);
        Assert.NotEqual(stale, fresh); // a new folder: the stale one is never changed under a reader

        using var model = LoadedModel.Open(fresh);
        Assert.Equal(version, model.ModelVersion);
        Assert.Equal(File.ReadAllBytes(Path.Combine(TinyModel.Directory, ModelManifest.FileName)), File.ReadAllBytes(Path.Combine(fresh, ModelManifest.FileName)));
    }

    [StorageFact]
    public async Task ARunningHostPicksUpTheCopyCodesWhenTheSameVersionIsRepublishedWithThem()
    {
        using var p = await Pipeline.CreateAsync(withModel: false);
        var dir = CopyOfTinyModel();
        var manifest = ModelFolder.ReadManifest(dir);
        File.Delete(Path.Combine(dir, CopyInfo.FileName));
        ModelFolder.WriteManifest(dir, manifest with { Files = manifest.Files with { Copies = null }, Copies = null });
        var version = await p.Registry.PublishAsync(dir);
        Assert.True(await p.Registry.ActivateAsync(version, await p.Registry.GetActiveAsync()));
        var before = await p.Models.GetAsync();
        Assert.Null(before!.Copies);
        Assert.Same(before, await p.Models.GetAsync()); // nothing changed: the held model stays

        Assert.Equal(version, await p.Registry.PublishAsync(TinyModel.Directory));
        var after = await p.Models.GetAsync();
        Assert.Equal(version, after!.ModelVersion);
        Assert.NotNull(after.Copies);
        Assert.Same(after, await p.Models.GetAsync());
    }

    [StorageFact]
    public async Task PublishRefusesToChangeAStoredFileOfAVersion()
    {
        var storage = await Azurite.FreshAsync();
        var registry = new ModelRegistry(storage.Container(storage.Names.ModelsContainer));
        await registry.PublishAsync(TinyModel.Directory);
        // The same version with another (valid, same-sized) ONNX file: a version's files never change.
        var dir = CopyOfTinyModel();
        var path = Path.Combine(dir, OnnxInfo.FileName);
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        graph.ProducerVersion = new string('9', graph.ProducerVersion.Length);
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(graph));
        var manifest = ModelFolder.ReadManifest(dir);
        ModelFolder.WriteManifest(dir, manifest with { Files = manifest.Files with { Onnx = ModelFolder.Describe(dir, OnnxInfo.FileName) } });

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => registry.PublishAsync(dir));
        Assert.Contains($"different {OnnxInfo.FileName}", e.Message);
    }

    [StorageFact]
    public async Task AVersionWhoseListedFileIsNotStoredIsReportedAndTheHostKeepsServing()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var good = await p.Models.GetAsync();
        var copy = CopyOfTinyModel();
        var brokenVersion = "m-20990101000000-00000001";
        ModelFolder.WriteManifest(copy, ModelFolder.ReadManifest(copy) with { Version = brokenVersion });
        File.Delete(Path.Combine(copy, OnnxInfo.FileName));
        await UploadUncheckedAsync(p.Storage.Container(p.Storage.Names.ModelsContainer), copy, brokenVersion);
        Assert.True(await p.Registry.ActivateAsync(brokenVersion, await p.Registry.GetActiveAsync()));

        Assert.Same(good, await p.Models.GetAsync());
        Assert.Contains($"{OnnxInfo.FileName} is listed in model.json but not stored", p.Models.LastFailure?.Reason);
    }

    [StorageFact]
    public async Task AHostThatMeetsABrokenVersionKeepsServingThePreviousOneAndSaysWhy()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var good = await p.Models.GetAsync();
        Assert.NotNull(good);

        // A new version whose ONNX file disagrees with model.json (the graph has 10 classes, model.json says 11).
        var broken = CopyOfTinyModel();
        var manifest = ModelFolder.ReadManifest(broken);
        var brokenVersion = "m-20990101000000-0badf00d";
        ModelFolder.WriteManifest(broken, manifest with { Version = brokenVersion, Classes = manifest.Classes + 1, ClassNames = [.. manifest.ClassNameList, "Extra"] });
        var models = p.Storage.Container(p.Storage.Names.ModelsContainer);
        await UploadUncheckedAsync(models, broken, brokenVersion);
        Assert.True(await p.Registry.ActivateAsync(brokenVersion, await p.Registry.GetActiveAsync()));

        var served = await p.Models.GetAsync();
        Assert.Same(good, served);
        var failure = Assert.IsType<ModelLoadFailure>(p.Models.LastFailure);
        Assert.Equal(brokenVersion, failure.Version);
        Assert.Contains(OnnxInfo.FileName, failure.Reason);

        // Queries still answer from the previous model, and the status says why the new one is not served.
        var answer = await p.Http.QueryAsync("image/png", new MemoryStream(Images.Png(TinyModel.TestImages, 1)), _ => null, default);
        Assert.Equal(200, answer.Status);
        var status = await p.Http.StatusAsync(default);
        using var json = JsonDocument.Parse(status.Body);
        Assert.Equal(good!.ModelVersion, json.RootElement.GetProperty("modelVersion").GetString());
        Assert.Equal(brokenVersion, json.RootElement.GetProperty("modelError").GetProperty("version").GetString());
        Assert.Contains("'logits' has shape", json.RootElement.GetProperty("modelError").GetProperty("reason").GetString());
        Assert.StartsWith("onnxruntime cpu", json.RootElement.GetProperty("runtime").GetString());

        // Rolling the pointer back clears the report.
        Assert.True(await p.Registry.ActivateAsync(good.ModelVersion, await p.Registry.GetActiveAsync()));
        Assert.Same(good, await p.Models.GetAsync());
        Assert.Null(p.Models.LastFailure);
    }
}

public sealed class StorageBlipTests
{
    [StorageFact]
    public async Task AStorageBlipWhileAModelIsHeldKeepsQueriesAnswering()
    {
        var faults = new ConnectionFailures(ModelRegistry.PointerBlob, enabled: false);
        using var p = await Pipeline.CreateAsync(withModel: true, [faults]);
        // The hosts' default: due pointer checks run in the background while a model is held.
        var models = new ActiveModelCache(p.Registry, new ModelCacheOptions { CacheDirectory = p.ModelCacheDirectory, RefreshInterval = TimeSpan.Zero },
            new Onnx.InferenceOptions(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<ActiveModelCache>.Instance);
        var held = await models.GetAsync();
        Assert.NotNull(held);

        faults.Enabled = true; // every read of the pointer now fails on the connection
        for (int i = 0; i < 3; i++) Assert.Same(held, await models.GetAsync());
        var queries = new Query.QueryService(models, p.Index, p.QueryOptions, Dpq.Imaging.SkiaImageDecoder.Instance, p.Get<Telemetry.DpqMetrics>(), p.Get<Catalog.ISearchCatalog>());
        var answer = await queries.QueryAsync(new Query.QueryRequest(Images.Png(TinyModel.TestImages, 1), null, null, 5, null, null));
        Assert.Equal(held!.ModelVersion, answer.ModelVersion);

        // The synchronous path too keeps the held model when the read fails.
        var synchronous = new ActiveModelCache(p.Registry, new ModelCacheOptions { CacheDirectory = p.ModelCacheDirectory, RefreshInterval = TimeSpan.Zero, RefreshInBackground = false },
            new Onnx.InferenceOptions(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<ActiveModelCache>.Instance);
        faults.Enabled = false;
        var first = await synchronous.GetAsync();
        faults.Enabled = true;
        Assert.Same(first, await synchronous.GetAsync());
        Assert.True(faults.Failed > 0);
    }
}

public sealed class HeldIndexTests
{
    [StorageFact]
    public async Task AHostThatHoldsNoModelYetAnswers503NotAnErrorWhileStorageFails()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        var pointer = new ConnectionFailures(ModelRegistry.PointerBlob); // which version is active cannot be read
        var queue = new ConnectionFailures(p.Storage.Names.TrainQueue, writes: true);
        using var host = p.Twin([pointer, queue], s => s
            .AddSingleton(new ModelCacheOptions { CacheDirectory = TestScratch.NewDirectory("model-cache"), RefreshInterval = TimeSpan.Zero }),
            Storage.StorageRetry.Default with { MaxRetries = 0 });
        var query = await host.Http.QueryAsync("image/png", new MemoryStream(Images.Png(TinyModel.TestImages, 1)), _ => null, default);
        var status = await host.Http.StatusAsync(default);
        var retrain = await host.Http.RetrainAsync(default);
        foreach (var answer in new[] { query, status, retrain })
        {
            Assert.Equal(503, answer.Status);
            Assert.Equal("application/problem+json", answer.ContentType);
            Assert.NotNull(answer.RetryAfter);
        }
        Assert.All(new[] { query, status, retrain }, a => Assert.Contains("Storage unavailable", Encoding.UTF8.GetString(a.Body)));
        Assert.True(pointer.Failed > 0 && queue.Failed > 0);
    }

    [StorageFact]
    public async Task WhileStorageFailsQueriesByImageAndByIdAnswerFromTheHeldModelAndIndex()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await p.IngestAsync([0, 1, 2]);
        await p.DrainAllAsync();
        // A query host as deployed: model and index refreshed in the background while they are held.
        var outage = new ConnectionFailures("/", enabled: false);
        using var host = p.Twin([outage], s => s
            .AddSingleton(p.QueryOptions with { IndexRefreshInterval = TimeSpan.Zero, IndexRefreshInBackground = true })
            .AddSingleton(new ModelCacheOptions { CacheDirectory = TestScratch.NewDirectory("model-cache"), RefreshInterval = TimeSpan.Zero }));
        var byImage = await host.Http.QueryAsync("image/png", new MemoryStream(Images.Png(TinyModel.TestImages, 1)), _ => null, default);
        Assert.Equal(200, byImage.Status);

        outage.Enabled = true; // every read fails on the connection, retries and all
        var id = Dpq.Indexing.ImageId.FromBlobName(Images.Name(2)).ToString();
        foreach (var (type, body) in new[] { ("image/png", Images.Png(TinyModel.TestImages, 1)), ("application/json", Encoding.UTF8.GetBytes($"{{\"id\": \"{id}\"}}")),
            ("application/json", Encoding.UTF8.GetBytes($"{{\"id\": \"{Images.Name(2)}\"}}")) })
        {
            var answer = await host.Http.QueryAsync(type, new MemoryStream(body), _ => null, default);
            Assert.True(answer.Status == 200, $"{type}: {answer.Status} {answer.Body}");
        }
        var unknown = await host.Http.QueryAsync("application/json", new MemoryStream("{\"id\": \"no/such.png\"}"u8.ToArray()), _ => null, default);
        Assert.Equal(400, unknown.Status);
        await Task.Delay(200);
        Assert.True(outage.Failed > 0, "the background refreshes met the outage");
    }
}

public sealed class QueryDecodeFaultTests
{
    [StorageTheory]
    [InlineData(false, 400, "Invalid image")]
    [InlineData(true, 503, "Busy")]
    public async Task AQueryImageWhoseDecoderFaultsIsNeverA500(bool memory, int status, string title)
    {
        var image = Images.Png(TinyModel.TestImages, 4);
        var decoder = new FaultyDecoder(() => memory ? new OutOfMemoryException("injected") : new InvalidOperationException("injected"), image);
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton<Dpq.Imaging.IImageDecoder>(decoder));

        var answer = await p.Http.QueryAsync("image/png", new MemoryStream(image), _ => null, default);

        Assert.Equal(status, answer.Status);
        using var problem = JsonDocument.Parse(answer.Body);
        Assert.Equal(title, problem.RootElement.GetProperty("title").GetString());
        Assert.Equal(memory, answer.RetryAfter is not null);
        Assert.Equal(200, (await p.Http.QueryAsync("image/png", new MemoryStream(Images.Png(TinyModel.TestImages, 5)), _ => null, default)).Status);
    }
}

public sealed class QueryWarmUpTests
{
    [StorageFact]
    public async Task WarmUpLoadsTheActiveModelBeforeAnyQueryAndToleratesNone()
    {
        using var empty = await Pipeline.CreateAsync(withModel: false);
        await new Query.QueryWarmUp(empty.Models, empty.Index, Microsoft.Extensions.Logging.Abstractions.NullLogger<Query.QueryWarmUp>.Instance).RunAsync(default);
        Assert.Null(await empty.Models.GetAsync());

        using var p = await Pipeline.CreateAsync(withModel: true);
        var version = (await p.Registry.GetActiveAsync())!.Version;
        Assert.Empty(Directory.EnumerateDirectories(p.ModelCacheDirectory));
        await new Query.QueryWarmUp(p.Models, p.Index, Microsoft.Extensions.Logging.Abstractions.NullLogger<Query.QueryWarmUp>.Instance).RunAsync(default);
        var cached = Assert.Single(Directory.EnumerateDirectories(p.ModelCacheDirectory, version + ".*"));
        // Downloaded and loaded: what serving reads is in the cache, the TorchSharp weights are not.
        Assert.True(File.Exists(Path.Combine(cached, OnnxInfo.FileName)));
        Assert.False(File.Exists(Path.Combine(cached, "weights.dat")));
        Assert.Null(p.Models.LastFailure);
    }
}
