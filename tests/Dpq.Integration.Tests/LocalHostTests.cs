using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Dpq.Integration.Tests;

/// <summary>
/// The local stack as ./dpq up runs it: WebJobs triggers (the Functions host's engine) polling
/// Azurite, the HTTP functions on Kestrel at 127.0.0.1, and the worker's drain loop.
/// </summary>
public sealed class LocalHostTests
{
    [StorageFact]
    public async Task UploadsSpreadOverTimeAreIndexedAndAnsweredOverHttp()
    {
        await using var stack = await RunningStack.StartAsync();
        var images = stack.Storage.Container(stack.Storage.Names.ImagesContainer);

        // Three waves, the later ones well after the trigger's first sweep of the container.
        for (var wave = 0; wave < 3; wave++)
        {
            for (var i = 0; i < 4; i++) await Images.UploadAsync(images, TinyModel.TestImages, wave * 4 + i);
            await stack.WaitForIndexedAsync((wave + 1) * 4);
            if (wave < 2) await Task.Delay(TimeSpan.FromSeconds(5));
        }

        using var png = new ByteArrayContent(Images.Png(TinyModel.TestImages, 100));
        png.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var answer = await stack.Http.PostAsync("/api/query?k=5&bits=16", png);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal(5, body.RootElement.GetProperty("results").GetArrayLength());
        Assert.Equal(16, body.RootElement.GetProperty("bits").GetInt32());
        Assert.Equal(12, body.RootElement.GetProperty("indexedItems").GetInt64());

        using var bad = await stack.Http.PostAsync("/api/query", new StringContent("{\"k\": \"ten\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
    }
}
