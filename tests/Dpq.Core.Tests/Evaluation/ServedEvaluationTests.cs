using Dpq.Copies;
using Dpq.Evaluation;
using Dpq.Imaging;
using Dpq.ModelFiles;
using Dpq.ModelVersions;
using Dpq.Tests.Copies;
using Dpq.Tests.Onnx;

namespace Dpq.Tests.Evaluation;

/// <summary>The evaluation's service path: a random servable model with the test copy codes, images stored as the worker stores them.</summary>
public sealed class ServedEvaluationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private LoadedModel Model()
    {
        TestModelFolder.Write(_dir.Path);
        ModelFolder.AddCopyCodec(_dir.Path, TestCopies.Codec);
        return LoadedModel.Open(_dir.Path);
    }

    [Fact]
    public void AStoredImagesCopyLeadsItsAnswerAtItsPositionInTheStoredOrder()
    {
        using var model = Model();
        Assert.NotNull(model.Copies);
        var images = TestCopies.TrainingImages;
        var served = ServedEvaluation.Store(model, [("a", images.Slice(0, 100), null), ("b", images.Slice(100, 100), null)]);
        Assert.Equal(200, served.Snapshot.Items);
        Assert.Equal(ServedEvaluation.Shards, served.Snapshot.Segments.Length);
        Assert.All(served.Snapshot.Segments, s => Assert.True(s.HasCopyCodes));

        // Images the copy codes were fitted on (not the held-out calibration ones), as JPEG files.
        foreach (var i in new[] { 0, 40, 120, 170 })
        {
            var file = CopyVariants.Make(CopyVariant.Jpeg75, images.Pixels.AsSpan(i * 784, 784), 28, 28);
            var (features, prints) = served.EncodeQueries([file]);
            Assert.Equal(CopyFingerprint.Dimension, prints.Length);
            var (items, duplicates) = served.Answer(features, prints, levels: 1, k: 10);
            Assert.Equal(i, items[0]);
            Assert.True(duplicates >= 1);
            Assert.Equal(10, items.Length);
            Assert.Equal(i, served.NearDuplicates(prints, 100)[0].Item);
        }
    }

    [Fact]
    public void GivenCodesAreStoredAsTheyAreBesideCopyCodesTheWorkerWouldWrite()
    {
        using var model = Model();
        var images = TestCopies.TrainingImages.Slice(0, 60);
        var encoded = ServedEvaluation.Store(model, [("a", images, null)]);
        var rng = new Random(4);
        var given = Enumerable.Range(0, images.Count * model.Levels).Select(_ => (byte)rng.Next(model.Codewords)).ToArray();
        var stored = ServedEvaluation.Store(model, [("a", images, given)]);
        var format = new Dpq.Formats.CodeFormat(model.Codewords, model.Levels);
        var code = new byte[format.BytesPerCode];
        foreach (var (a, b) in encoded.Snapshot.Segments.Zip(stored.Snapshot.Segments))
        {
            Assert.Equal(a.Count, b.Count);
            for (int i = 0; i < a.Count; i++)
            {
                Assert.Equal(a.CopyCodeOf(i).ToArray(), b.CopyCodeOf(i).ToArray());
                b.CopyCode(i, code);
                int index = int.Parse(b.Ids[i][2..8], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(given.AsSpan(index * model.Levels, model.Levels).ToArray(), Enumerable.Range(0, model.Levels).Select(l => (byte)format.GetLevel(code, l)));
            }
        }
        Assert.Throws<ArgumentException>(() => ServedEvaluation.Store(model, [("a", images, given[1..])]));
    }
}
