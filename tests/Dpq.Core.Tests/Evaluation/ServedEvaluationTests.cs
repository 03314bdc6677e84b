using Dpq.Copies;
using Dpq.Evaluation;
using Dpq.Imaging;
using Dpq.Model;
using Dpq.Models;
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
        var served = ServedEvaluation.Store(model, [("a", images.Slice(0, 100)), ("b", images.Slice(100, 100))]);
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
}
