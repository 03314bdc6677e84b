using System.Text.Json.Serialization;

namespace Dpq.Query;

/// <summary>
/// One result: its image id, blob name, score (higher is closer) and class name (label), if any. Match is
/// "near-duplicate" for the results that lead the answer because they look like the query pixel by pixel
/// (a copy of it, when the index holds one; CopyDistance is the squared distance of the copy fingerprints),
/// and "similar" for the class neighbours after them.
/// </summary>
public sealed record QueryHit(string Id, string BlobName, float Score, string? Label, string Match = QueryHit.Similar,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? CopyDistance = null)
{
    public const string NearDuplicate = "near-duplicate";
    public const string Similar = "similar";
}

/// <summary>Where the time of one query went, in milliseconds; CopyScan is the near-duplicate search's share.</summary>
public sealed record QueryTimings(double Total, double Model, double Index, double Encode, double Scan, double CopyScan = 0);

/// <summary>
/// An answer. NearDuplicateScoreFloor: every near-duplicate scores at least this, every similar result
/// at most this (null when the query cannot have near-duplicates: a vector query, or a model or index
/// without copy codes).
/// </summary>
public sealed record QueryResponse(string ModelVersion, int Bits, int K, long IndexedItems, IReadOnlyList<QueryHit> Results, QueryTimings TimingsMs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? NearDuplicateScoreFloor = null);
