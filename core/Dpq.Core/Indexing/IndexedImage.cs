namespace Dpq.Indexing;

/// <summary>
/// One image's code as stored: M level indices (one byte each), plus what a result shows (its class name,
/// a <see cref="ClassLabel"/>, when it has one), and the image's copy code (Dpq.Copies.CopyCodec) when its model has copy codes.
/// </summary>
public sealed record IndexedImage(ImageId Id, string BlobName, string? Label, byte[] Code, string? SourceETag, byte[]? CopyCode = null,
    DateTimeOffset? UploadedAt = null);
