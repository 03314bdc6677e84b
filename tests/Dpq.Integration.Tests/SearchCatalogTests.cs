using System.Text.Json;
using Dpq.Catalog;
using Dpq.Ingest;
using Microsoft.Extensions.DependencyInjection;

namespace Dpq.Integration.Tests;

/// <summary>
/// The optional Azure AI Search catalog, through the real SDK against a local stand-in that checks what it is
/// sent: the schema, the mirror of every indexed image, deletes, retries, and query filters.
/// </summary>
public sealed class SearchCatalogTests
{
    private static async Task<Pipeline> PipelineWith(SearchServiceStandIn search, int maxRetries = 3) =>
        await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(new SearchCatalogOptions
        {
            Endpoint = search.Endpoint,
            ApiKey = SearchServiceStandIn.ApiKey,
            MaxRetries = maxRetries,
            RetryDelay = TimeSpan.FromMilliseconds(10),
            TryTimeout = TimeSpan.FromSeconds(10),
        }).AddSingleton(search.ClientOptions()));

    [StorageFact]
    public async Task EachIndexedImageIsMirroredWithItsClassVersionLevelOneCodeAndUploadTimeAndDeletesFollow()
    {
        await using var search = await SearchServiceStandIn.StartAsync();
        using var p = await PipelineWith(search);
        await p.IngestAsync([0, 1, 2]);
        Assert.Equal(3, (await p.DrainAllAsync()).Indexed);

        // The schema the project creates, once, before the first write.
        var fields = search.Schema!["fields"]!.AsArray().ToDictionary(f => f!["name"]!.GetValue<string>(), f => f!.AsObject());
        Assert.Equal(["blobName", "id", "imageId", "label", "level1Code", "modelVersion", "uploadedAt"], fields.Keys.Order());
        Assert.True(fields["id"]["key"]!.GetValue<bool>());
        Assert.Equal("Edm.Int32", fields["level1Code"]["type"]!.GetValue<string>());
        Assert.True(fields["level1Code"]["facetable"]!.GetValue<bool>());
        Assert.True(fields["label"]["filterable"]!.GetValue<bool>());
        Assert.Equal("Edm.DateTimeOffset", fields["uploadedAt"]["type"]!.GetValue<string>());
        Assert.Single(search.Requests, r => r.Method == "PUT");
        Assert.All(search.Requests, r => Assert.Equal(SearchServiceStandIn.ApiKey, r.ApiKeyHeader));
        Assert.All(search.Requests, r => Assert.Contains("api-version=", r.Query));

        var version = (await p.Registry.GetActiveAsync())!.Version;
        var rows = (await p.CodeRowsAsync()).ToDictionary(r => r.GetString("BlobName"));
        Assert.Equal(3, search.Documents.Count);
        var images = p.Storage.Container(p.Storage.Names.ImagesContainer);
        foreach (var i in new[] { 0, 1, 2 })
        {
            var doc = search.Documents[CatalogDocument.KeyOf(version, Indexing.ImageId.FromBlobName(Images.Name(i)))];
            Assert.Equal("mergeOrUpload", doc["@search.action"]!.GetValue<string>());
            Assert.Equal(Images.Name(i), doc["blobName"]!.GetValue<string>());
            Assert.Equal(TinyModel.TestImages.ClassNameOf(i), doc["label"]!.GetValue<string>());
            Assert.Equal(version, doc["modelVersion"]!.GetValue<string>());
            Assert.Equal(rows[Images.Name(i)].GetBinary("Code")[0], doc["level1Code"]!.GetValue<int>());
            var uploaded = (await images.GetBlobClient(Images.Name(i)).GetPropertiesAsync()).Value.LastModified;
            Assert.Equal(uploaded, DateTimeOffset.Parse(doc["uploadedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
        }

        await images.DeleteBlobAsync(Images.Name(1));
        await p.Intake.HandleDeletedAsync(p.Storage.Names.ImagesContainer, Images.Name(1));
        Assert.Equal(1, (await p.DrainAllAsync()).Removed);
        Assert.Equal(2, search.Documents.Count);
        Assert.DoesNotContain(search.Documents.Values, d => d["blobName"]!.GetValue<string>() == Images.Name(1));
    }

    [StorageFact]
    public async Task TransientFailuresAreRetriedAndAnOutagePastTheBudgetRetriesTheWholeWriteLater()
    {
        await using var search = await SearchServiceStandIn.StartAsync();
        using var p = await PipelineWith(search, maxRetries: 2);
        search.FailNext(2); // within the budget: each call's third try succeeds
        await p.IngestAsync([0, 1]);
        Assert.Equal(2, (await p.DrainAllAsync()).Indexed);
        Assert.Equal(2, search.Documents.Count);
        Assert.Equal(3, search.Requests.Count(r => r.Method == "PUT")); // the schema call: 503, 503, then 201
        Assert.Equal(1, search.Requests.Count(r => r.Path.EndsWith("/docs/search.index", StringComparison.Ordinal)));

        search.FailNext(3); // past the budget of one call: the write is retried as a whole, later
        await p.IngestAsync([2]);
        var first = await p.DrainAllAsync();
        Assert.Equal(0, first.Indexed);
        Assert.Equal(1, first.Retried);
        Assert.Equal(2, search.Documents.Count);
        await p.DrainUntilAsync(async () => { await Task.Yield(); return search.Documents.Count == 3; }, TimeSpan.FromSeconds(60));
        Assert.Equal(3, (await p.CodeRowsAsync()).Count); // the write repeated leaves one row and one document per image
    }

    [StorageFact]
    public async Task AFilterRestrictsTheQueryToTheImagesTheCatalogSelects()
    {
        await using var search = await SearchServiceStandIn.StartAsync();
        using var p = await PipelineWith(search);
        var indices = Enumerable.Range(0, 24).ToList();
        await p.IngestAsync(indices);
        await p.DrainAllAsync();
        var label = TinyModel.TestImages.ClassNameOf(5);
        var expected = indices.Where(i => TinyModel.TestImages.ClassNameOf(i) == label).Select(Images.Name).ToHashSet();

        var answer = await QueryAsync(p, new { id = Images.Name(0), k = 24, filter = $"label eq '{label}'" });
        Assert.Equal(200, answer.Status);
        var names = Hits(answer).ToHashSet();
        Assert.Equal(expected, names); // only the filter's images, all of them (k exceeds their number)
        var unfiltered = await QueryAsync(p, new { id = Images.Name(0), k = 24 });
        Assert.Equal(24, Hits(unfiltered).Count());

        var match = Assert.Single(search.Requests, r => r.Path.EndsWith("/docs/search.post.search", StringComparison.Ordinal));
        using (var sent = JsonDocument.Parse(match.Body))
        {
            var version = (await p.Registry.GetActiveAsync())!.Version;
            Assert.Equal($"modelVersion eq '{version}' and (label eq '{label}')", sent.RootElement.GetProperty("filter").GetString());
            Assert.Equal("imageId", sent.RootElement.GetProperty("select").GetString());
        }

        var invalid = await QueryAsync(p, new { id = Images.Name(0), filter = "label eq" });
        Assert.Equal(400, invalid.Status);
        Assert.Contains("Invalid filter", System.Text.Encoding.UTF8.GetString(invalid.Body));
        search.FailNext(100);
        var down = await QueryAsync(p, new { id = Images.Name(0), filter = $"label eq '{label}'" });
        Assert.Equal(503, down.Status);
        Assert.NotNull(down.RetryAfter);
    }

    [StorageFact]
    public async Task ARetiredVersionsDocumentsAreDeletedAndNoOtherVersions()
    {
        await using var search = await SearchServiceStandIn.StartAsync();
        using var p = await PipelineWith(search);
        var catalog = p.Get<ISearchCatalog>();
        Indexing.IndexedImage Image(int i) => new(Indexing.ImageId.FromBlobName($"r/{i}.png"), $"r/{i}.png", "Bag", [(byte)i], null);
        await catalog.MirrorAsync("old", [.. Enumerable.Range(0, 2500).Select(Image)], []); // more than one page of keys
        await catalog.MirrorAsync("new", [Image(1), Image(2)], []);
        Assert.Equal(2502, search.Documents.Count);

        await catalog.ForgetVersionAsync("old");
        Assert.Equal(["new", "new"], search.Documents.Values.Select(d => d["modelVersion"]!.GetValue<string>()));
        Assert.Equal(3, search.Requests.Count(r => r.Path.EndsWith("/docs/search.index", StringComparison.Ordinal) && r.Body.Contains("\"delete\"")));
    }

    [StorageFact]
    public async Task AFilterSelectsEveryMatchAcrossPagesUpToTheLimitAndStaysInsideTheActiveVersion()
    {
        await using var search = await SearchServiceStandIn.StartAsync();
        using var p = await PipelineWith(search);
        var catalog = p.Get<ISearchCatalog>();
        Indexing.IndexedImage Image(int i, string label) => new(Indexing.ImageId.FromBlobName($"p/{i}.png"), $"p/{i}.png", label, [(byte)(i % 256)], null);
        await catalog.MirrorAsync("v1", [.. Enumerable.Range(0, 2300).Select(i => Image(i, i % 2 == 0 ? "Bag" : "Coat"))], []);
        await catalog.MirrorAsync("v2", [.. Enumerable.Range(0, 50).Select(i => Image(i, "Bag"))], []);

        var bags = await catalog.MatchAsync("v1", "label eq 'Bag'");
        Assert.Equal(1150, bags.Count); // more than one page
        Assert.Equal(Enumerable.Range(0, 2300).Where(i => i % 2 == 0).Select(i => Indexing.ImageId.FromBlobName($"p/{i}.png")).ToHashSet(), bags);

        // A filter that closes the version scope's parenthesis would reach every version's documents: refused.
        var escape = await Assert.ThrowsAsync<CatalogFilterException>(() => catalog.MatchAsync("v2", "label eq 'Bag') or (modelVersion ne 'v2'"));
        Assert.Contains("self-contained", escape.Message);
        Assert.Equal(50, (await catalog.MatchAsync("v2", "label eq 'Bag' or label eq ')'")).Count); // a parenthesis inside a literal is text
        await Assert.ThrowsAsync<CatalogFilterException>(() => catalog.MatchAsync("v2", "label eq 'Bag"));
    }

    [StorageFact]
    public async Task AFilterSelectingMoreThanTheLimitOrAnIndexNotYetCreatedIsRefusedClearly()
    {
        await using var search = await SearchServiceStandIn.StartAsync();
        using var p = await Pipeline.CreateAsync(withModel: true, configure: s => s.AddSingleton(new SearchCatalogOptions
        {
            Endpoint = search.Endpoint, ApiKey = SearchServiceStandIn.ApiKey, MaxFilterMatches = 10, RetryDelay = TimeSpan.FromMilliseconds(10),
        }).AddSingleton(search.ClientOptions()));
        await p.IngestAsync([0]);
        var none = await p.Http.QueryAsync("image/png", new MemoryStream(Images.Png(TinyModel.TestImages, 0)), q => q == "filter" ? "label ne 'x'" : null, default);
        Assert.Equal(503, none.Status); // nothing mirrored yet: the index does not exist
        Assert.Contains("does not exist yet", System.Text.Encoding.UTF8.GetString(none.Body));

        await p.DrainAllAsync();
        var catalog = p.Get<ISearchCatalog>();
        var version = (await p.Registry.GetActiveAsync())!.Version;
        await catalog.MirrorAsync(version, [.. Enumerable.Range(0, 11).Select(i => new Indexing.IndexedImage(Indexing.ImageId.FromBlobName($"m/{i}.png"), $"m/{i}.png", "Bag", [1], null))], []);
        var tooMany = await QueryAsync(p, new { id = Images.Name(0), filter = "label eq 'Bag'" });
        Assert.Equal(400, tooMany.Status);
        Assert.Contains("at most 10", System.Text.Encoding.UTF8.GetString(tooMany.Body));
    }

    [StorageFact]
    public async Task SyncFillsACatalogTurnedOnAfterImagesWereIndexedAndDeletesWhatTheIndexNoLongerHolds()
    {
        using var before = await Pipeline.CreateAsync(withModel: true); // no catalog yet
        await before.IngestAsync([0, 1, 2]);
        await before.DrainAllAsync();
        await before.Storage.Container(before.Storage.Names.ImagesContainer).DeleteBlobAsync(Images.Name(2)); // indexed, blob since gone

        await using var search = await SearchServiceStandIn.StartAsync();
        using var after = before.Twin(s => s.AddSingleton(new SearchCatalogOptions { Endpoint = search.Endpoint, ApiKey = SearchServiceStandIn.ApiKey })
            .AddSingleton(search.ClientOptions()));
        var version = (await after.Registry.GetActiveAsync())!.Version;
        // Documents of images the index no longer holds (removed while the catalog was behind): more than a page of them,
        // and another version's, which stay.
        var catalog = after.Get<ISearchCatalog>();
        await catalog.MirrorAsync(version, [.. Enumerable.Range(0, 1200).Select(i => new Indexing.IndexedImage(Indexing.ImageId.FromBlobName($"gone/{i}.png"), $"gone/{i}.png", "Bag", [1], null))], []);
        await catalog.MirrorAsync("other", [new Indexing.IndexedImage(Indexing.ImageId.FromBlobName("gone/0.png"), "gone/0.png", "Bag", [1], null)], []);

        var result = await after.Get<CatalogSync>().SyncAsync();
        Assert.Equal(3, result.Mirrored);
        Assert.Equal(1, result.WithoutUploadTime);
        Assert.Equal(1200, result.Pruned);
        Assert.Equal(4, search.Documents.Count); // the three indexed images, and the other version's document
        Assert.Equal(version, result.ModelVersion);
        var doc = search.Documents[CatalogDocument.KeyOf(version, Indexing.ImageId.FromBlobName(Images.Name(0)))];
        var uploaded = (await after.Storage.Container(after.Storage.Names.ImagesContainer).GetBlobClient(Images.Name(0)).GetPropertiesAsync()).Value.LastModified;
        Assert.Equal(uploaded, DateTimeOffset.Parse(doc["uploadedAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Null(search.Documents[CatalogDocument.KeyOf(version, Indexing.ImageId.FromBlobName(Images.Name(2)))]["uploadedAt"]);

        var again = await after.Get<CatalogSync>().SyncAsync(); // again: the same documents, nothing more to delete
        Assert.Equal((3, 0), (again.Mirrored, again.Pruned));
        Assert.Equal(4, search.Documents.Count);
    }

    [StorageFact]
    public async Task WithoutACatalogAFilterIsRefusedSayingWhatToSet()
    {
        using var p = await Pipeline.CreateAsync(withModel: true);
        await p.IngestAsync([0]);
        await p.DrainAllAsync();
        var answer = await QueryAsync(p, new { id = Images.Name(0), filter = "label eq 'Bag'" });
        Assert.Equal(400, answer.Status);
        Assert.Contains("DpqSearch__endpoint", System.Text.Encoding.UTF8.GetString(answer.Body));
    }

    private static Task<Query.HttpAnswer> QueryAsync(Pipeline p, object body) =>
        p.Http.QueryAsync("application/json", new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(body)), _ => null, CancellationToken.None);

    private static IEnumerable<string> Hits(Query.HttpAnswer answer)
    {
        using var doc = JsonDocument.Parse(answer.Body);
        return [.. doc.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("blobName").GetString()!)];
    }
}
