using System.Security.Cryptography;
using System.Text;

namespace Dpq.Indexing;

/// <summary>
/// The stable identity of an indexed image, derived from its blob name alone: the same upload
/// always maps to the same table row, so reprocessing a message overwrites instead of duplicating.
/// 128 bits of SHA-256 as 32 lowercase hex characters (valid in every Table key).
/// </summary>
public readonly record struct ImageId(UInt128 Value)
{
    public static ImageId FromBlobName(string blobName)
    {
        ArgumentException.ThrowIfNullOrEmpty(blobName);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(blobName), hash);
        return new ImageId(System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(hash));
    }

    public static ImageId Parse(string text) =>
        text.Length == 32 && UInt128.TryParse(text, System.Globalization.NumberStyles.AllowHexSpecifier, null, out var v)
            ? new ImageId(v)
            : throw new FormatException($"'{text}' is not an image id (32 hex characters)");

    /// <summary>The shard this image belongs to, out of <paramref name="shardCount"/>.</summary>
    public int Shard(int shardCount) => (int)(Value % (UInt128)shardCount);

    public override string ToString() => Value.ToString("x32");
}
