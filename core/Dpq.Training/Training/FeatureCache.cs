using System.Runtime.InteropServices;
using Dpq.Onnx;

namespace Dpq.Training;

/// <summary>
/// Backbone features of training images, computed once and kept on disk: a file per (backbone, images)
/// named by <see cref="TrainingSource.Identity"/>, raw little-endian float32 after a 16-byte header
/// ("DPQF", version, count, dimension). A second training run on the same images reads them back.
/// </summary>
public sealed class FeatureCache(string directory)
{
    private static ReadOnlySpan<byte> Magic => "DPQF"u8;

    public float[] GetOrCompute(string backbone, TrainingSource source, BackboneFeatures network, IProgress<int>? progress = null,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(directory, $"{backbone}-{source.Identity()[..32]}.f32");
        if (TryRead(path, source.Count, network.Dimension) is { } cached)
        {
            log?.Invoke($"{backbone} features of {source.Count} images read from {path}");
            return cached;
        }
        log?.Invoke($"computing {backbone} features of {source.Count} images (once; kept in {directory})");
        var features = network.Compute(source.Count, source.File, progress, cancellationToken);
        Directory.CreateDirectory(directory);
        var temporary = path + ".tmp";
        using (var file = File.Create(temporary))
        {
            Span<byte> header = stackalloc byte[16];
            Magic.CopyTo(header);
            BitConverter.TryWriteBytes(header[4..], 1);
            BitConverter.TryWriteBytes(header[8..], source.Count);
            BitConverter.TryWriteBytes(header[12..], network.Dimension);
            file.Write(header);
            file.Write(MemoryMarshal.AsBytes(features.AsSpan()));
        }
        File.Move(temporary, path, overwrite: true);
        return features;
    }

    private static float[]? TryRead(string path, int count, int dimension)
    {
        if (!File.Exists(path) || !BitConverter.IsLittleEndian) return null;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != 16 + (long)count * dimension * sizeof(float) || !bytes.AsSpan(0, 4).SequenceEqual(Magic)
            || BitConverter.ToInt32(bytes, 4) != 1 || BitConverter.ToInt32(bytes, 8) != count || BitConverter.ToInt32(bytes, 12) != dimension)
            return null;
        return MemoryMarshal.Cast<byte, float>(bytes.AsSpan(16)).ToArray();
    }
}
