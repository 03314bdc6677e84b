using Azure.Storage.Blobs.Models;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.Storage;

namespace Dpq.Data;

/// <summary>
/// One labelled image file: its name, its class (an index into <see cref="LabelledImages.ClassNames"/>), what
/// identifies this version of its bytes (length and time, or an ETag) and the bytes, read on demand.
/// </summary>
public sealed record LabelledFile(string Name, byte Class, string Version, Func<byte[]> Read);

/// <summary>
/// Labelled image files to train on: a folder tree whose first subfolders name the classes, or the labelled
/// blobs of the images and imports containers. Classes are numbered in ordinal order of their names; at most
/// 255 (a class is one byte in training and in the index).
/// </summary>
public sealed class LabelledImages
{
    public const int MaxClasses = 255;

    private LabelledImages(string source, IReadOnlyList<string> classNames, IReadOnlyList<LabelledFile> files) =>
        (Source, ClassNames, Files) = (source, classNames, files);

    /// <summary>Where the images came from, for model.json.</summary>
    public string Source { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public IReadOnlyList<LabelledFile> Files { get; }
    public int Count => Files.Count;

    /// <summary>The class folders under <paramref name="directory"/>; <paramref name="refused"/> lists what was left out and why.</summary>
    public static LabelledImages FromFolder(string directory, out IReadOnlyList<RefusedFile> refused)
    {
        var plan = ImportFolder.Scan(directory, FolderLabels.Folders);
        refused = plan.Refused;
        return Create($"folder {Path.GetFullPath(directory)}", plan.Files.Select(f => (f.Name, f.Label!,
            $"{f.Length}@{File.GetLastWriteTimeUtc(f.Path).Ticks}", (Func<byte[]>)(() => File.ReadAllBytes(f.Path)))));
    }

    /// <summary>Every blob of the images and imports containers whose metadata label is a class name (others are skipped and counted).</summary>
    public static async Task<(LabelledImages Images, int Skipped)> FromStorageAsync(StorageClients storage, CancellationToken cancellationToken = default)
    {
        var found = new List<(string, string, string, Func<byte[]>)>();
        int skipped = 0;
        foreach (var containerName in new[] { storage.Names.ImagesContainer, storage.Names.ImportsContainer })
        {
            var container = storage.Container(containerName);
            await foreach (var blob in container.GetBlobsAsync(new GetBlobsOptions { Traits = BlobTraits.Metadata }, cancellationToken))
            {
                var label = ClassLabel.FromMetadata(blob.Metadata);
                if (label is null || ClassLabel.Check(label) is not null || UploadPolicy.Default.CheckName(blob.Name) is not null
                    || !(blob.Properties.ContentLength > 0 && blob.Properties.ContentLength <= ImageLimits.Default.MaxBytes))
                {
                    skipped++;
                    continue;
                }
                var client = container.GetBlobClient(blob.Name);
                var etag = blob.Properties.ETag;
                found.Add(($"{containerName}/{blob.Name}", label, etag?.ToString() ?? "", () => Download(client, etag)));
            }
        }
        return (Create($"storage ({storage.Names.ImagesContainer}, {storage.Names.ImportsContainer})", found), skipped);
    }

    /// <summary>
    /// The content the listing described (If-Match on its ETag): a blob written since, perhaps far larger than the
    /// size checked, is refused unread like an image that cannot be decoded.
    /// </summary>
    private static byte[] Download(Azure.Storage.Blobs.BlobClient client, Azure.ETag? etag)
    {
        try
        {
            var options = new BlobDownloadOptions { Conditions = etag is { } e ? new BlobRequestConditions { IfMatch = e } : null };
            return client.DownloadContent(options).Value.Content.ToArray();
        }
        catch (Azure.RequestFailedException x) when (x.Status is 412 or 404)
        {
            throw new ImageRejectedException(x.Status == 412 ? "the blob was written again since it was listed" : "the blob was deleted since it was listed");
        }
    }

    private static LabelledImages Create(string source, IEnumerable<(string Name, string Label, string Version, Func<byte[]> Read)> files)
    {
        var list = files.OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        var names = list.Select(f => f.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (names.Length > MaxClasses) throw new InvalidDataException($"{names.Length} classes; a model has at most {MaxClasses}");
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => (byte)p.i, StringComparer.Ordinal);
        return new LabelledImages(source, names, [.. list.Select(f => new LabelledFile(f.Name, index[f.Label], f.Version, f.Read))]);
    }

    /// <summary>
    /// These images without the ones that do not decode completely (a corrupt body behind a whole header), which
    /// <paramref name="refused"/> lists with the reason: one bad file must not stop a training run.
    /// </summary>
    public LabelledImages Decodable(out IReadOnlyList<(string Name, string Reason)> refused, CancellationToken cancellationToken = default)
    {
        var pre = new ImagePreprocessor(FashionMnist.Side, FashionMnist.Side);
        var reasons = new string?[Count];
        Parallel.For(0, Count, new ParallelOptions { CancellationToken = cancellationToken }, () => new float[pre.PixelCount], (i, _, pixels) =>
        {
            try
            {
                pre.Decode(Files[i].Read(), pixels);
            }
            catch (ImageRejectedException e)
            {
                reasons[i] = e.Reason;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or Azure.RequestFailedException)
            {
                reasons[i] = $"it cannot be read: {e.Message}";
            }
            return pixels;
        }, _ => { });
        refused = [.. Enumerable.Range(0, Count).Where(i => reasons[i] is not null).Select(i => (Files[i].Name, reasons[i]!))];
        return refused.Count == 0 ? this : new LabelledImages(Source, ClassNames, [.. Files.Where((_, i) => reasons[i] is null)]);
    }

    /// <summary>
    /// A held-out share of each class (at least one image of every class with two or more), chosen by
    /// <paramref name="seed"/>; both parts keep all class names.
    /// </summary>
    public (LabelledImages Train, LabelledImages HeldOut) Split(double heldOutFraction, int seed)
    {
        if (heldOutFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, "from 0 to below 1");
        var rng = new Random(seed);
        var train = new List<LabelledFile>();
        var heldOut = new List<LabelledFile>();
        foreach (var group in Files.GroupBy(f => f.Class))
        {
            var members = group.ToArray();
            rng.Shuffle(members);
            int take = heldOutFraction == 0 || members.Length < 2 ? 0 : Math.Max(1, (int)Math.Round(members.Length * heldOutFraction));
            heldOut.AddRange(members[..take]);
            train.AddRange(members[take..]);
        }
        static List<LabelledFile> Ordered(List<LabelledFile> files) => [.. files.OrderBy(f => f.Name, StringComparer.Ordinal)];
        return (new LabelledImages(Source, ClassNames, Ordered(train)), new LabelledImages(Source, ClassNames, Ordered(heldOut)));
    }

    /// <summary>The images decoded gray at <paramref name="side"/> x <paramref name="side"/>, as serving would decode them for such a model.</summary>
    public ImageSet ToGrayImageSet(int side, CancellationToken cancellationToken = default)
    {
        var pre = new ImagePreprocessor(side, side);
        var pixels = new byte[(long)Count * side * side];
        var labels = new byte[Count];
        Parallel.For(0, Count, new ParallelOptions { CancellationToken = cancellationToken }, () => new float[side * side], (i, _, plane) =>
        {
            pre.Decode(Files[i].Read(), plane);
            for (int p = 0; p < plane.Length; p++) pixels[(long)i * plane.Length + p] = (byte)Math.Clamp(MathF.Round(plane[p] * 255f), 0, 255);
            labels[i] = Files[i].Class;
            return plane;
        }, _ => { });
        return new ImageSet(Count, side, side, pixels, labels, Math.Max(ClassNames.Count, 1), ClassNames.Count == 0 ? null : ClassNames);
    }
}
