using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Dpq.Imaging;

namespace Dpq.Integration.Tests;

/// <summary>The search page's own endpoints over HTTP: the page, thumbnails (with caching), the failures list and the shard counts.</summary>
public sealed class SearchPageHttpTests
{
    private static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.True(ImageHeader.TryRead(png, out var header), "not an image");
        Assert.Equal(ImageFormat.Png, header.Format);
        return (header.Width, header.Height);
    }

    [StorageFact]
    public async Task ThePageThumbnailsFailuresAndShardCountsAreServedWithCachingAndClearRefusals()
    {
        await using var stack = await RunningStack.StartAsync();
        var images = stack.Storage.Container(stack.Storage.Names.ImagesContainer);
        for (var i = 0; i < 3; i++) await Images.UploadAsync(images, TinyModel.TestImages, i);
        var wide = ImagePreprocessor.EncodePng(new byte[300 * 120], 300, 120);
        await Images.UploadAsync(images, "wide/a b+c.png", wide, null); // a name that needs escaping in a URL
        await Images.UploadAsync(images, "bad/corrupt.png", [.. Images.Png(TinyModel.TestImages, 9)[..30], 1, 2, 3], null);
        await stack.WaitForIndexedAsync(4);
        await stack.WaitForFailureAsync("bad/corrupt.png");
        var http = stack.Http;

        // The page: one document, a policy that allows only itself, revalidated by ETag.
        using var page = await http.GetAsync("/api/search");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("default-src 'none'", page.Headers.GetValues("Content-Security-Policy").Single());
        using var pageAgain = new HttpRequestMessage(HttpMethod.Get, "/api/search");
        pageAgain.Headers.IfNoneMatch.Add(page.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await http.SendAsync(pageAgain)).StatusCode);
        using var root = await http.GetAsync("/");
        Assert.Equal("/api/search", root.RequestMessage!.RequestUri!.AbsolutePath); // followed the redirect

        // Thumbnails: never enlarged, fitted to the size asked, cached by ETag until the blob changes.
        var name = Uri.EscapeDataString(Images.Name(0));
        using var small = await http.GetAsync($"/api/thumbnails?name={name}");
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal("image/png", small.Content.Headers.ContentType?.MediaType);
        Assert.Equal((28, 28), PngSize(await small.Content.ReadAsByteArrayAsync()));
        Assert.True(small.Headers.CacheControl is { Private: true, MaxAge: { } age } && age == TimeSpan.FromHours(1), $"Cache-Control: {small.Headers.CacheControl}");
        using var tiny = await http.GetAsync($"/api/thumbnails?name={name}&size=16");
        Assert.Equal((16, 16), PngSize(await tiny.Content.ReadAsByteArrayAsync()));
        Assert.NotEqual(small.Headers.ETag, tiny.Headers.ETag);
        using var wideThumb = await http.GetAsync($"/api/thumbnails?name={Uri.EscapeDataString("wide/a b+c.png")}&size=100");
        Assert.Equal((100, 40), PngSize(await wideThumb.Content.ReadAsByteArrayAsync()));

        using var revalidate = new HttpRequestMessage(HttpMethod.Get, $"/api/thumbnails?name={name}");
        revalidate.Headers.IfNoneMatch.Add(small.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await http.SendAsync(revalidate)).StatusCode);
        await Images.UploadAsync(images, Images.Name(0), Images.Png(TinyModel.TestImages, 5), null); // overwritten
        using var changed = new HttpRequestMessage(HttpMethod.Get, $"/api/thumbnails?name={name}");
        changed.Headers.IfNoneMatch.Add(small.Headers.ETag!);
        using var changedAnswer = await http.SendAsync(changed);
        Assert.Equal(HttpStatusCode.OK, changedAnswer.StatusCode);
        Assert.NotEqual(small.Headers.ETag, changedAnswer.Headers.ETag);

        // Refusals: each a problem-details answer with its reason.
        foreach (var (query, expected, reason) in new[]
        {
            ("name=" + Uri.EscapeDataString("no/such.png"), HttpStatusCode.NotFound, "no stored image"),
            ("name=" + Uri.EscapeDataString("bad/corrupt.png"), (HttpStatusCode)422, "corrupt"),
            ($"name={name}&size=9999", HttpStatusCode.BadRequest, "size"),
            ($"name={name}&size=-1", HttpStatusCode.BadRequest, "size"),
            ("", HttpStatusCode.BadRequest, "name"),
        })
        {
            using var refused = await http.GetAsync("/api/thumbnails?" + query);
            Assert.Equal(expected, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Contains(reason, problem.RootElement.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        }

        // Failures, newest first, with their reasons.
        using var failures = JsonDocument.Parse(await http.GetStringAsync("/api/failures"));
        Assert.Equal(1, failures.RootElement.GetProperty("total").GetInt32());
        var failure = failures.RootElement.GetProperty("failures").EnumerateArray().Single();
        Assert.Equal("bad/corrupt.png", failure.GetProperty("blobName").GetString());
        Assert.Contains("corrupt", failure.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/api/failures?top=0")).StatusCode);

        // The status counts each shard's images; together they are the index.
        using var status = JsonDocument.Parse(await http.GetStringAsync("/api/index"));
        var shards = status.RootElement.GetProperty("shards").GetInt32();
        var perShard = status.RootElement.GetProperty("shardItems").EnumerateArray().Select(e => e.GetInt64()).ToList();
        Assert.Equal(Dpq.Indexing.IndexKeys.DefaultShardCount, shards);
        Assert.Equal(shards, perShard.Count);
        Assert.Equal(status.RootElement.GetProperty("indexedItems").GetInt64(), perShard.Sum());
        Assert.True(perShard.Count(n => n > 0) >= 2, "four images all in one shard of 16 is unlikely for these names");
    }
}
