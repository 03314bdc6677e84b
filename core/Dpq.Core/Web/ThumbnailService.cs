using Azure;
using Azure.Storage.Blobs.Models;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Query;
using Dpq.Storage;
using Microsoft.Extensions.Logging;

namespace Dpq.Web;

/// <summary>
/// GET /api/thumbnails?name=N&amp;size=S: a PNG preview of the stored image an answer names, read through the
/// app so that no container is public and the page holds no key or SAS. The ETag follows the blob's and the
/// size, so a browser revalidates with If-None-Match and gets 304 without a download or a decode.
/// </summary>
public sealed class ThumbnailService(StorageClients storage, ILogger<ThumbnailService> logger)
{
    // Stored images are checked with the query limits: a preview never costs more than a query's decode.
    private readonly ThumbnailRenderer _renderer = new(ImageLimits.Query);

    /// <summary>Thumbnails of an unchanged blob are the same: cache an hour, then revalidate (cheap: a HEAD and a 304).</summary>
    public const string CacheControl = "private, max-age=3600";

    public async Task<HttpAnswer> GetAsync(string? name, string? size, string? ifNoneMatch, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 1024 || name.Any(char.IsControl))
            return HttpProblem.Answer(400, "Bad name", "give the image's name as it appears in a query answer (blobName), at most 1024 characters");
        var side = ThumbnailRenderer.DefaultSide;
        if (size is not null && (!int.TryParse(size, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out side)
            || side < 16 || side > ThumbnailRenderer.MaxSide))
            return HttpProblem.Answer(400, "Bad size", $"size is the thumbnail's longest side in pixels, 16 to {ThumbnailRenderer.MaxSide}");

        var (container, blobName) = ImageLocation.Locate(storage.Names, name);
        var blob = storage.Container(container).GetBlobClient(blobName);
        try
        {
            BlobProperties properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken);
            var etag = $"\"{properties.ETag.ToString().Trim('"')}-{side}\"";
            var headers = new Dictionary<string, string> { ["ETag"] = etag, ["Cache-Control"] = CacheControl, ["X-Content-Type-Options"] = "nosniff" };
            if (ifNoneMatch is not null && ifNoneMatch.Split(',').Any(t => t.Trim() == etag))
                return new HttpAnswer(304, "image/png", [], Headers: headers);
            if (properties.ContentLength > ImageLimits.Query.MaxBytes)
                return HttpProblem.Answer(422, "Cannot show the image", $"the file has {properties.ContentLength} bytes; previews are made of files up to {ImageLimits.Query.MaxBytes}");
            // If-Match: the bytes are the version whose ETag the answer carries, even if the blob is overwritten meanwhile.
            var content = await blob.DownloadContentAsync(new BlobDownloadOptions { Conditions = new BlobRequestConditions { IfMatch = properties.ETag } }, cancellationToken);
            return new HttpAnswer(200, "image/png", _renderer.Render(content.Value.Content.ToMemory().Span, side), Headers: headers);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return HttpProblem.Answer(404, "No such image", $"no stored image is named '{name}' (it may have been deleted since the answer)");
        }
        catch (RequestFailedException e) when (e.Status == 412)
        {
            return HttpProblem.Answer(503, "Image changing", "the image was overwritten while it was read; ask again") with { RetryAfter = TimeSpan.FromSeconds(1) };
        }
        catch (ImageRejectedException e)
        {
            return HttpProblem.Answer(422, "Cannot show the image", e.Reason);
        }
        catch (Exception e) when (Ingest.EncodeBatchProcessor.IsStorageFault(e, cancellationToken))
        {
            logger.LogWarning(e, "Reading {Name} for a thumbnail failed", name);
            return HttpProblem.Answer(503, "Storage unavailable", "the image could not be read from storage now; try again shortly") with { RetryAfter = TimeSpan.FromSeconds(5) };
        }
    }
}
