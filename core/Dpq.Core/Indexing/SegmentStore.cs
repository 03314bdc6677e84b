using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Dpq.Formats;

namespace Dpq.Indexing;

/// <summary>
/// One model version's segment files in the segments container, named by their catalog entries (see
/// <see cref="SegmentEntry.BlobName"/>). Made by <see cref="IndexStore"/>.
/// </summary>
public sealed class SegmentStore(BlobContainerClient container, string modelVersion)
{
    /// <summary>
    /// Stores a new segment file; its name is new, so an existing blob of that name is an error, unless it holds
    /// these very bytes: then an earlier try of this upload committed and only its answer was lost (the SDK's
    /// retry met its own file), and the upload is done.
    /// </summary>
    public async Task UploadAsync(string blobName, ShardSegment segment, CancellationToken cancellationToken = default)
    {
        var bytes = ShardSegmentWriter.ToArray(segment);
        var blob = container.GetBlobClient(blobName);
        try
        {
            await blob.UploadAsync(new BinaryData(bytes), new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            var stored = await blob.DownloadContentAsync(cancellationToken);
            if (!stored.Value.Content.ToMemory().Span.SequenceEqual(bytes)) throw;
        }
    }

    /// <summary>The segment, checked against its model version and format; null when the file is gone (compacted away).</summary>
    public async Task<ShardSegment?> ReadAsync(string blobName, CodeFormat? format, CancellationToken cancellationToken = default)
    {
        try
        {
            var download = await container.GetBlobClient(blobName).DownloadStreamingAsync(cancellationToken: cancellationToken);
            await using var stream = download.Value.Content;
            // Read synchronously from a buffer: the reader takes sections straight into its arrays.
            var buffer = new MemoryStream(checked((int)download.Value.Details.ContentLength));
            await stream.CopyToAsync(buffer, cancellationToken);
            buffer.Position = 0;
            try
            {
                return ShardSegmentReader.Read(buffer, modelVersion, format);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"segment file {container.Name}/{blobName}: {e.Message}", e);
            }
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the file is stored whole: true when its trailing checksum matches the bytes before it, false
    /// when it does not (damaged, cut short, overwritten), null when the file is gone. Downloads the file and
    /// keeps none of it. A file that is whole but that this build cannot read (a newer format version) is
    /// true here: not damage.
    /// </summary>
    public async Task<bool?> IsIntactAsync(string blobName, CancellationToken cancellationToken = default)
    {
        try
        {
            var download = await container.GetBlobClient(blobName).DownloadContentAsync(cancellationToken);
            var bytes = download.Value.Content.ToMemory();
            if (bytes.Length < ShardSegmentFormat.ChecksumLength) return false;
            var body = bytes.Span[..^ShardSegmentFormat.ChecksumLength];
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes.Span[^ShardSegmentFormat.ChecksumLength..])
                == System.IO.Hashing.XxHash64.HashToUInt64(body);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The file's format version from its first bytes alone (a range read); null when the file is gone or is not a segment file.</summary>
    public async Task<ushort?> ReadFormatVersionAsync(string blobName, CancellationToken cancellationToken = default)
    {
        try
        {
            var download = await container.GetBlobClient(blobName).DownloadContentAsync(
                new BlobDownloadOptions { Range = new HttpRange(0, ShardSegmentFormat.PreambleLength) }, cancellationToken);
            var bytes = download.Value.Content.ToMemory().Span;
            if (bytes.Length < ShardSegmentFormat.PreambleLength || !bytes[..ShardSegmentFormat.Magic.Length].SequenceEqual(ShardSegmentFormat.Magic)) return null;
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes[ShardSegmentFormat.FieldLocations.FormatVersion..]);
        }
        catch (RequestFailedException e) when (e.Status is 404 or 416)
        {
            return null;
        }
    }

    public Task DeleteAsync(string blobName, CancellationToken cancellationToken = default) =>
        container.GetBlobClient(blobName).DeleteIfExistsAsync(cancellationToken: cancellationToken);

    /// <summary>
    /// Marks a file no catalog row lists any more as retired at <paramref name="at"/>: a metadata write, which also
    /// moves its last-modified time to now, so the orphan sweep keeps it for a full orphan age from here (hosts
    /// that listed it before the swap still read it). A file already gone is no error.
    /// </summary>
    public async Task RetireAsync(string blobName, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        try
        {
            await container.GetBlobClient(blobName).SetMetadataAsync(
                new Dictionary<string, string> { ["retired"] = at.ToString("O", System.Globalization.CultureInfo.InvariantCulture) }, cancellationToken: cancellationToken);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            // Gone already (a sweep, or a repair).
        }
    }

    /// <summary>The version's segment files with when they were last written.</summary>
    public async IAsyncEnumerable<(string BlobName, DateTimeOffset LastModified)> ListAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, modelVersion + "/", cancellationToken))
            yield return (blob.Name, blob.Properties.LastModified ?? DateTimeOffset.MinValue);
    }
}
