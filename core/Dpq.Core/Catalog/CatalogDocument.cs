using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Dpq.Indexing;

namespace Dpq.Catalog;

/// <summary>
/// One image of one model version in the search index: <see cref="Key"/> joins the two, so a version being
/// built never overwrites the active one's documents, and queries select the active version's.
/// </summary>
public sealed record CatalogDocument(
    [property: JsonPropertyName("id")] string Key,
    [property: JsonPropertyName("imageId")] string ImageId,
    [property: JsonPropertyName("blobName")] string BlobName,
    [property: JsonPropertyName("label")] string? Label,
    [property: JsonPropertyName("modelVersion")] string ModelVersion,
    [property: JsonPropertyName("level1Code")] int Level1Code,
    [property: JsonPropertyName("uploadedAt")] DateTimeOffset? UploadedAt)
{
    public static CatalogDocument From(string modelVersion, IndexedImage image) =>
        new(KeyOf(modelVersion, image.Id), image.Id.ToString(), image.BlobName, image.Label, modelVersion, image.Code[0], image.UploadedAt);

    /// <summary>A document key (letters, digits, '_', '-' only): the image id and a digest of the version, whatever characters it holds.</summary>
    public static string KeyOf(string modelVersion, ImageId id) =>
        $"{id}_{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(modelVersion)))[..16]}";
}
