using Dpq.Copies;
using Dpq.Data;
using Dpq.Formats;
using Dpq.Imaging;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;
using Dpq.Query;
using Dpq.Scan;

namespace Dpq.Evaluation;

/// <summary>
/// Evaluation through the service's own parts: images are stored as the worker stores them (PNG bytes,
/// <see cref="BatchEncoder"/>, <see cref="IndexSegments.FromImages"/> per shard, written and read back as
/// segment files) and queries are answered as the query function answers them (decode, ONNX Runtime,
/// fingerprint, <see cref="AnswerRanking"/>).
/// </summary>
public sealed class ServedEvaluation
{
    public const int Shards = 4;
    private const int Batch = 256;

    private readonly LoadedModel _model;
    private readonly Dictionary<(int Segment, int Item), int> _index = [];

    private ServedEvaluation(LoadedModel model, IndexSnapshot snapshot, string[] names)
    {
        _model = model;
        Snapshot = snapshot;
        var position = names.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        for (int s = 0; s < snapshot.Segments.Length; s++)
            for (int i = 0; i < snapshot.Segments[s].Count; i++)
                _index[(s, i)] = position[snapshot.Segments[s].Ids[i]];
    }

    public IndexSnapshot Snapshot { get; }

    /// <summary>
    /// Stores the images of <paramref name="sets"/> (name prefix, images, and optionally their codes, Count x M, as the
    /// model assigned them) in that order; item i of the index is the i-th image stored. Given codes are stored as they
    /// are and only the copy codes are computed (the forward pass, which dominates for a photo backbone, is not repeated).
    /// </summary>
    public static ServedEvaluation Store(LoadedModel model, IReadOnlyList<(string Prefix, ImageSet Images, byte[]? Codes)> sets, CancellationToken cancellationToken = default)
    {
        var stored = new List<IndexedImage>();
        var names = new List<string>();
        foreach (var (prefix, images, given) in sets)
        {
            if (given is not null && given.Length != images.Count * model.Levels)
                throw new ArgumentException($"{given.Length} code bytes for {images.Count} images of {model.Levels} levels", nameof(sets));
            for (int start = 0; start < images.Count; start += Batch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(Batch, images.Count - start);
                var files = new ReadOnlyMemory<byte>[count];
                Parallel.For(0, count, j => files[j] = ImagePreprocessor.EncodePng(images, start + j));
                var encoded = BatchEncoder.Encode(files, model, cancellationToken: cancellationToken, withCodes: given is null);
                if (encoded.Good.Length != count) throw new InvalidDataException($"{count - encoded.Good.Length} images of {prefix} did not decode");
                for (int j = 0; j < count; j++)
                {
                    var name = $"{prefix}/{start + j:D6}.png";
                    names.Add(name);
                    var code = given is null ? encoded.Code(j).ToArray() : given.AsSpan((start + j) * model.Levels, model.Levels).ToArray();
                    stored.Add(new IndexedImage(ImageId.FromBlobName(name), name, images.ClassNameOf(start + j), code, null, encoded.CopyCode(j)));
                }
            }
        }
        var format = new CodeFormat(model.Codewords, model.Levels);
        var segments = stored.GroupBy(i => i.Id.Shard(Shards)).OrderBy(g => g.Key)
            .Select(g => ShardSegmentReader.Read(ShardSegmentWriter.ToArray(IndexSegments.FromImages(format, model.ModelVersion, g)), model.ModelVersion, format))
            .ToArray();
        var snapshot = new IndexSnapshot(model.ModelVersion, [.. segments], ItemExclusions.Create(segments, []), DateTimeOffset.UtcNow);
        return new ServedEvaluation(model, snapshot, [.. names]);
    }

    /// <summary>Query features and copy fingerprints of files, decoded as a query is (fingerprints empty without copy codes; features empty unless <paramref name="withFeatures"/>).</summary>
    public (float[] Features, float[] Fingerprints) EncodeQueries(IReadOnlyList<byte[]> files, bool withFeatures = true)
    {
        var pre = new ImagePreprocessor(_model.InputWidth, _model.InputHeight, ImageLimits.ForQuery(_model.InputWidth, _model.InputHeight), _model.InputChannels);
        var pixels = new float[files.Count * pre.PixelCount];
        Parallel.For(0, files.Count, i => pre.Decode(files[i], pixels.AsSpan(i * pre.PixelCount, pre.PixelCount)));
        var features = new float[withFeatures ? files.Count * _model.FeatureDimension : 0];
        for (int start = 0; withFeatures && start < files.Count; start += Batch)
        {
            int count = Math.Min(Batch, files.Count - start);
            _model.EncodeFeatures(pixels.AsSpan(start * pre.PixelCount, count * pre.PixelCount), count).CopyTo(features, start * _model.FeatureDimension);
        }
        return (features, _model.Copies is null ? [] : CopyFingerprint.ComputeAll(pixels, files.Count, _model.Input));
    }

    /// <summary>The index positions (order of <see cref="Store"/>) of the answer to one query, best first, and how many lead as near-duplicates.</summary>
    public (int[] Items, int NearDuplicates) Answer(ReadOnlySpan<float> feature, ReadOnlySpan<float> fingerprint, int levels, int k)
    {
        var answer = AnswerRanking.Rank(Snapshot, _model.Codebooks, _model.Copies, feature, fingerprint, levels, k, new ScanOptions { Threads = 1 });
        return ([.. answer.Hits.Select(h => _index[(h.Segment, h.Item)])], answer.Hits.Count(h => h.IsNearDuplicate));
    }

    /// <summary>The near-duplicates the service would put first for one query: index positions and copy distances.</summary>
    public IReadOnlyList<(int Item, float Distance)> NearDuplicates(ReadOnlySpan<float> fingerprint, int limit)
    {
        if (_model.Copies is null || fingerprint.IsEmpty) return [];
        var found = AnswerRanking.FindNearDuplicates(Snapshot, _model.Copies, fingerprint, limit, new ScanOptions { Threads = 1 });
        return [.. found.Select(f => (_index[(f.Segment, f.Item)], f.Distance))];
    }
}
