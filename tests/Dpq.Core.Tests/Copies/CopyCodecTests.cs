using Dpq.Copies;
using Dpq.Imaging;
using Dpq.Quantization;

namespace Dpq.Tests.Copies;

public sealed class CopyCodecTests
{
    private static float[] Fingerprint(ReadOnlySpan<byte> gray, CopyVariant variant = CopyVariant.Exact)
    {
        var pre = new ImagePreprocessor(28, 28);
        var pixels = new float[784];
        pre.Decode(CopyVariants.Make(variant, gray, 28, 28), pixels);
        var print = new float[CopyFingerprint.Dimension];
        CopyFingerprint.Compute(pixels, print);
        return print;
    }

    [Fact]
    public void TheScanScoreIsTheSquaredDistanceToTheScannedPrefixUpToTheQuantizedCrossTerms()
    {
        var codec = TestCopies.Codec.Codec;
        var images = TestCopies.TrainingImages;
        var query = Fingerprint(images.Pixels.AsSpan(0, 784), CopyVariant.Jpeg75);
        var tables = codec.ScanTables(query);
        Assert.Equal(CopyCodec.ScannedLevels + 1, tables.Levels);
        var code = new byte[CopyCodec.CodeBytes];
        var prefix = new float[CopyFingerprint.Dimension];
        for (int i = 0; i < 50; i++)
        {
            codec.Encode(Fingerprint(images.Pixels.AsSpan(i * 784, 784)), code);
            float score = 0;
            for (int l = 0; l <= CopyCodec.ScannedLevels; l++) score += tables.Level(l)[code[l]];
            codec.Codebooks.Decode(code.AsSpan(0, CopyCodec.ScannedLevels), prefix);
            float exact = VectorMath.Dot(query, query) - VectorMath.SquaredDistance(query, prefix);
            float crossError = codec.CrossTerm(code.AsSpan(0, CopyCodec.ScannedLevels)) - codec.CrossTerms[code[CopyCodec.CrossByte]];
            Assert.Equal(exact + crossError, score, 1e-3f);
            Assert.True(Math.Abs(crossError) < 0.05f * VectorMath.Dot(prefix, prefix) + 1e-3f, $"cross-term error {crossError}");
        }
    }

    [Fact]
    public void AnEncodedFingerprintDecodesCloseToItselfAndCloserThanToOthers()
    {
        var codec = TestCopies.Codec.Codec;
        var images = TestCopies.TrainingImages;
        var code = new byte[CopyCodec.CodeBytes];
        var a = Fingerprint(images.Pixels.AsSpan(0, 784));
        var b = Fingerprint(images.Pixels.AsSpan(784, 784));
        codec.Encode(a, code);
        Assert.False(CopyCodec.IsMissing(code));
        Assert.True(codec.SquaredDistance(a, code) < codec.SquaredDistance(b, code));
        Assert.True(codec.SquaredDistance(a, code) <= codec.CopyDistance);
    }

    [Fact]
    public void AMissingCodeIsNeverNearAndItsTablesStayInRangeForTheQuantizedScan()
    {
        var codec = TestCopies.Codec.Codec;
        var code = new byte[CopyCodec.CodeBytes];
        CopyCodec.WriteMissing(code);
        Assert.True(CopyCodec.IsMissing(code));
        var query = Fingerprint(TestCopies.TrainingImages.Pixels.AsSpan(0, 784));
        Assert.Equal(float.PositiveInfinity, codec.SquaredDistance(query, code));
        // The scan excludes missing items instead of scoring them away: an extreme entry would wreck the quantized tables' scale.
        var cross = codec.ScanTables(query).Level(CopyCodec.CrossByte).ToArray();
        Assert.InRange(cross[CopyCodec.Missing], cross.Min(), cross.Max());
        Assert.Equal(-codec.CrossTerms[^1], cross[CopyCodec.Missing]);
    }

    [Theory]
    [InlineData(new[] { 0.001f, 0.008f, 0.3f }, 2)] // both within 1.25 x the typical distance (0.01), not of the best
    [InlineData(new[] { 0.04f, 0.049f, 0.051f }, 2)] // 1.25 x the best (0.05)
    [InlineData(new[] { 0.2f, 0.21f }, 1)] // capped at the copy distance (0.2)
    [InlineData(new[] { 0.25f }, 0)] // beyond the copy distance
    [InlineData(new float[0], 0)]
    public void NearDuplicatesAreTheMatchesCloseToTheBest(float[] distances, int expected)
    {
        var trained = TestCopies.Codec.Codec;
        var codec = new CopyCodec(trained.Codebooks, [.. trained.CrossTerms], copyDistance: 0.2f, typicalCopyDistance: 0.01f, duplicateRatio: 1.25f);
        Assert.Equal(expected, codec.NearDuplicates(distances));
    }

    [Fact]
    public void ImpossibleSettingsAreRefused()
    {
        var trained = TestCopies.Codec.Codec;
        float[] norms = [.. trained.CrossTerms];
        Assert.Throws<InvalidDataException>(() => new CopyCodec(trained.Codebooks.Prefix(4), norms, 0.2f, 0.01f));
        Assert.Throws<InvalidDataException>(() => new CopyCodec(trained.Codebooks, [.. norms.Reverse()], 0.2f, 0.01f));
        Assert.Throws<InvalidDataException>(() => new CopyCodec(trained.Codebooks, norms[1..], 0.2f, 0.01f));
        Assert.Throws<InvalidDataException>(() => new CopyCodec(trained.Codebooks, norms, 0f, 0f));
        Assert.Throws<InvalidDataException>(() => new CopyCodec(trained.Codebooks, norms, 0.2f, 0.3f));
        Assert.Throws<InvalidDataException>(() => new CopyCodec(trained.Codebooks, norms, 0.2f, 0.01f, duplicateRatio: 0.5f));
    }

    [Fact]
    public void CalibrationBoundsEveryCopyOfTheSampledImages()
    {
        var trained = TestCopies.Codec;
        Assert.Equal(TestCopies.TrainImages / 10, trained.Calibration.SampledImages);
        Assert.Equal(1.0, trained.Calibration.CopiesWithin);
        Assert.Equal((float)(CopyCodecTrainer.CopyMargin * trained.Calibration.CopyDistances["max"]), trained.Codec.CopyDistance, 1e-6f);
        Assert.Equal(trained.Calibration.CopyDistances["p50"], trained.Codec.TypicalCopyDistance);
        Assert.True(trained.Calibration.NeighbourDistances["min"] > 0);
    }

    [Fact]
    public void ALargerColourInputAveragesToTheSameFingerprint()
    {
        // A 2x upscale in three equal channels covers each 28x28 cell with four equal pixels.
        var gray = new float[784];
        TestCopies.TrainingImages.CopyUnitPixels(5, 1, gray);
        var big = new float[3 * 56 * 56];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 56; y++)
                for (int x = 0; x < 56; x++) big[c * 56 * 56 + y * 56 + x] = gray[y / 2 * 28 + x / 2];
        var expected = new float[CopyFingerprint.Dimension];
        var actual = new float[CopyFingerprint.Dimension];
        CopyFingerprint.Compute(gray, expected);
        CopyFingerprint.Compute(big, new ModelFiles.InputShape(3, 56, 56), actual);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-5f);
    }
}
