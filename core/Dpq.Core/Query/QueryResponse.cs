namespace Dpq.Query;

/// <summary>One neighbour: its image id, blob name, score (higher is closer) and label, if any.</summary>
public sealed record QueryHit(string Id, string BlobName, float Score, int? Label);

/// <summary>Where the time of one query went, in milliseconds.</summary>
public sealed record QueryTimings(double Total, double Model, double Index, double Encode, double Scan);

public sealed record QueryResponse(string ModelVersion, int Bits, int K, long IndexedItems, IReadOnlyList<QueryHit> Results, QueryTimings TimingsMs);
