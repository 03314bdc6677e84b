using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Dpq.Integration.Tests;

/// <summary>
/// The search page in headless Chromium against the local stack: search by upload, by clicking a result and by
/// keyboard, class filters, the index view, accessibility (axe), a phone-sized viewport, and screenshots
/// (DPQ_SCREENSHOT_DIR keeps them; the README shows docs/images/search-page.png).
/// </summary>
public sealed class SearchPageBrowserTests
{
    private const int Indexed = 10;

    [ChromiumFact]
    public async Task APageUserSearchesByUploadByResultAndByKeyboardAndSeesTheIndex()
    {
        await using var stack = await RunningStack.StartAsync();
        var images = stack.Storage.Container(stack.Storage.Names.ImagesContainer);
        for (var i = 0; i < Indexed; i++) await Images.UploadAsync(images, TinyModel.TestImages, i);
        await Images.UploadAsync(images, "bad/corrupt.png", [.. Images.Png(TinyModel.TestImages, 20)[..30], 1, 2, 3], null);
        await stack.WaitForIndexedAsync(Indexed);
        await stack.WaitForFailureAsync("bad/corrupt.png");
        // Held-out figures, as a retraining or `dpq train` records them (the tiny model is not measured on held-out images).
        var heldOut = new Dictionary<int, double> { [8] = 0.61, [16] = 0.72, [24] = 0.75, [32] = 0.76 };
        var records = new Dpq.ModelVersions.VersionRecords(stack.Storage.Container(stack.Storage.Names.ModelsContainer), TimeProvider.System);
        Assert.True(await records.CreateAsync(new Dpq.ModelVersions.VersionRecord(stack.ModelVersion, Dpq.ModelVersions.VersionState.Ready, DateTimeOffset.UtcNow)
            { HeldOutMap = heldOut, ActivatedAt = DateTimeOffset.UtcNow }));
        var shots = Environment.GetEnvironmentVariable("DPQ_SCREENSHOT_DIR") is { Length: > 0 } dir ? Directory.CreateDirectory(dir).FullName : TestScratch.NewDirectory("screenshots");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium.Path, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 } });
        var problems = new List<string>(); // script errors and policy violations would show here
        page.Console += (_, m) => { if (m.Type == "error") problems.Add($"{m.Text} ({m.Location})"); };
        page.PageError += (_, e) => problems.Add(e);
        SetDefaultExpectTimeout(20_000);

        await page.GotoAsync(stack.Url + "/api/search");
        await Expect(page.Locator("#bits option")).ToHaveCountAsync(4); // the tiny model's four code lengths
        await Expect(page.Locator("#model-line")).ToContainTextAsync($"{Indexed} images");
        await page.FillAsync("#k", "6");

        // Search by upload: a copy of an indexed image comes first, marked.
        await page.Locator("#file").SetInputFilesAsync(new FilePayload { Name = "query.png", MimeType = "image/png", Buffer = Images.Png(TinyModel.TestImages, 3) });
        var results = page.Locator("#results li");
        await Expect(results).ToHaveCountAsync(6);
        await Expect(results.First.Locator("button")).ToHaveClassAsync("hit copy");
        await Expect(results.First.Locator(".name")).ToHaveTextAsync(Images.Name(3));
        await Expect(results.Nth(1).Locator("button")).ToHaveClassAsync("hit");
        await Expect(page.Locator("#timings")).ToContainTextAsync("Model version");
        await Expect(page.Locator("#search-status")).ToContainTextAsync("6 results");
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#results img, #query-image')].every(i => i.complete && i.naturalWidth > 0)");
        Assert.Equal($"Result 1: {await results.First.Locator(".label").TextContentAsync()}, {Images.Name(3)}",
            await results.First.Locator("img").GetAttributeAsync("alt"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(shots, "search-page.png"), FullPage = true });

        // Click a result: it becomes the query, and (being in the index) its own best match.
        var second = (await results.Nth(1).Locator(".name").TextContentAsync())!;
        await results.Nth(1).Locator("button").ClickAsync();
        await Expect(page.Locator("#query-caption")).ToHaveTextAsync("Query: " + second);
        await Expect(results.First.Locator(".name")).ToHaveTextAsync(second);

        // Keyboard: focus the third result and press Enter.
        var third = (await results.Nth(2).Locator(".name").TextContentAsync())!;
        await results.Nth(2).Locator("button").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#query-caption")).ToHaveTextAsync("Query: " + third);

        // A class filter: every result is of the class ticked.
        var label = (await results.First.Locator(".label").TextContentAsync())!;
        await page.Locator($"#classes input[value=\"{label}\"]").CheckAsync();
        await page.ClickAsync("#search-button");
        await Expect(page.Locator("#search-status")).ToContainTextAsync("results");
        foreach (var shown in await page.Locator("#results .label").AllTextContentsAsync()) Assert.Equal(label, shown);

        var axe = await page.RunAxe();
        Assert.Empty(axe.Violations.Where(v => v.Impact is "serious" or "critical").Select(v => $"{v.Id}: {v.Help}"));

        // The index view: versions, per-shard counts, the plot and the recent failure.
        await page.ClickAsync("#tab-index");
        await Expect(page.Locator("#versions tbody tr .state-active")).ToHaveCountAsync(1);
        await Expect(page.Locator("#versions tbody tr td.num")).ToHaveTextAsync(Indexed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var shardCounts = await page.Locator("#shards tbody td.num").AllTextContentsAsync();
        Assert.Equal(Dpq.Indexing.IndexKeys.DefaultShardCount, shardCounts.Count);
        Assert.Equal(Indexed, shardCounts.Sum(t => int.Parse(t, System.Globalization.CultureInfo.InvariantCulture)));
        await Expect(page.Locator("#map-plot svg polyline")).ToHaveCountAsync(1);
        await Expect(page.Locator("#map-plot svg circle")).ToHaveCountAsync(heldOut.Count);
        await Expect(page.Locator("#map-plot svg")).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("8: 0\\.610 · 16: 0\\.720 · 24: 0\\.750 · 32: 0\\.760"));
        await Expect(page.Locator("#versions tbody")).ToContainTextAsync("32: 0.760");
        await Expect(page.Locator("#failures tbody")).ToContainTextAsync("bad/corrupt.png");
        axe = await page.RunAxe();
        Assert.Empty(axe.Violations.Where(v => v.Impact is "serious" or "critical").Select(v => $"{v.Id}: {v.Help}"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(shots, "index-view.png"), FullPage = true });

        // A phone: nothing wider than the screen.
        await page.SetViewportSizeAsync(390, 844);
        await page.ClickAsync("#tab-search");
        await Expect(page.Locator("#search-view")).ToBeVisibleAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways on a phone");
        await page.ScreenshotAsync(new() { Path = Path.Combine(shots, "search-page-phone.png"), FullPage = true });

        Assert.Empty(problems);
    }
}
