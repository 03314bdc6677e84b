using System.Security.Cryptography;
using System.Text;
using Dpq.Data;
using Dpq.Imaging;

namespace Dpq.Training;

/// <summary>
/// Labelled images a model trains on or is checked against, whatever they came from: an image set held in
/// memory (Fashion-MNIST) or image files (a folder tree, the labelled blobs in storage). Gives each image as
/// a file (for a frozen photo backbone, decoded as serving decodes uploads) or the set as gray pixels.
/// </summary>
public sealed class TrainingSource
{
    private readonly ImageSet? _set;
    private readonly LabelledImages? _files;

    private TrainingSource(string dataset, ImageSet? set, LabelledImages? files) => (Dataset, _set, _files) = (dataset, set, files);

    public static TrainingSource FromImageSet(string dataset, ImageSet set) => new(dataset, set, null);

    public static TrainingSource FromFiles(LabelledImages files) => new(files.Source, null, files);

    /// <summary>What model.json records as the training data.</summary>
    public string Dataset { get; }
    public int Count => _set?.Count ?? _files!.Count;
    public IReadOnlyList<string> ClassNames => _set?.ClassNames ?? _files!.ClassNames;
    public int Classes => ClassNames.Count;
    public byte[] Labels => _set is not null ? _set.Labels : [.. _files!.Files.Select(f => f.Class)];

    /// <summary>Image <paramref name="index"/> as a file (a set's images as PNG).</summary>
    public byte[] File(int index) => _set is not null ? ImagePreprocessor.EncodePng(_set, index) : _files!.Files[index].Read();

    /// <summary>The images as gray pixels of <paramref name="side"/> x <paramref name="side"/> (a set of that size as it is).</summary>
    public ImageSet Gray(int side, CancellationToken cancellationToken = default)
    {
        if (_set is null) return _files!.ToGrayImageSet(side, cancellationToken);
        return _set.Height == side && _set.Width == side ? _set
            : throw new NotSupportedException($"{Dataset} images are {_set.Height}x{_set.Width}; train them at that size");
    }

    /// <summary>The images decoded in colour at <paramref name="side"/> x <paramref name="side"/> (R, G and B planes in [0, 1]), as serving decodes them for such a model.</summary>
    public float[] Colour(int side, CancellationToken cancellationToken = default)
    {
        var pre = new ImagePreprocessor(side, side, channels: 3);
        var pixels = new float[(long)Count * pre.PixelCount];
        Parallel.For(0, Count, new ParallelOptions { CancellationToken = cancellationToken },
            i => pre.Decode(File(i), pixels.AsSpan(i * pre.PixelCount, pre.PixelCount)));
        return pixels;
    }

    /// <summary>A name for exactly these images in this order (contents for a set; names and versions for files): what cached features are keyed by.</summary>
    public string Identity()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (_set is not null)
        {
            hash.AppendData(_set.Pixels);
            hash.AppendData(_set.Labels);
        }
        else
        {
            foreach (var f in _files!.Files) hash.AppendData(Encoding.UTF8.GetBytes($"{f.Name}\n{f.Version}\n{f.Class}\n"));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
