namespace Dpq.Query;

/// <summary>
/// One similarity query: exactly one of an image, the id (or blob name) of an indexed image, or a
/// feature vector; how many results; which code length; which labels to keep (null: all); and an OData
/// <see cref="Filter"/> over the search catalog's fields that restricts the candidates (null: none).
/// </summary>
public sealed record QueryRequest(byte[]? Image, string? Id, float[]? Vector, int K, int? Bits, IReadOnlySet<string>? Labels, string? Filter = null);

/// <summary>A query the caller must change: a 400 with <see cref="Title"/> and <see cref="Detail"/>.</summary>
public sealed class QueryValidationException(string title, string detail) : Exception(detail)
{
    public string Title { get; } = title;
    public string Detail => Message;
}

/// <summary>No model is active yet, so nothing can be answered: a 503 telling what to do.</summary>
public sealed class ModelUnavailableException(string detail) : Exception(detail);

/// <summary>The host cannot take this query now (short of memory); the caller may try again shortly.</summary>
public sealed class QueryCapacityException(string detail) : Exception(detail);
