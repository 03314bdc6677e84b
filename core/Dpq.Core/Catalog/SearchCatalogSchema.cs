using Azure.Search.Documents.Indexes.Models;

namespace Dpq.Catalog;

/// <summary>
/// The search index the project creates: one document per image and model version. Everything a query may
/// filter on is filterable; class, version and level-1 code are facetable too, so a client can count images
/// per class or per coarse cluster (the first code byte is the first DPQ block's codeword, a coarse cluster).
/// </summary>
public static class SearchCatalogSchema
{
    public static SearchIndex Create(string indexName) => new(indexName)
    {
        Fields =
        {
            new SimpleField("id", SearchFieldDataType.String) { IsKey = true, IsFilterable = true, IsSortable = true }, // paged through in key order
            new SimpleField("imageId", SearchFieldDataType.String) { IsFilterable = true },
            new SimpleField("blobName", SearchFieldDataType.String) { IsFilterable = true, IsSortable = true },
            new SimpleField("label", SearchFieldDataType.String) { IsFilterable = true, IsFacetable = true },
            new SimpleField("modelVersion", SearchFieldDataType.String) { IsFilterable = true, IsFacetable = true },
            new SimpleField("level1Code", SearchFieldDataType.Int32) { IsFilterable = true, IsFacetable = true },
            new SimpleField("uploadedAt", SearchFieldDataType.DateTimeOffset) { IsFilterable = true, IsSortable = true, IsFacetable = true },
        },
    };
}
