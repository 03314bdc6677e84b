using Dpq.ModelFiles;
using Dpq.Training.Network;
using Dpq.Quantization;
using Dpq.Tests.Quantization;
using Dpq.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training.Tests;

[Collection(TorchCollection.Name)]
public sealed class ProgressiveQuantizerTests
{
    private const int M = 4, K = 16, D = 12, N = 400;

    private static float[] Features(int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, N * D).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
    }

    private static long[] NetworkCodes(Codebooks books, float[] features)
    {
        using var quantizer = new ProgressiveQuantizer(books.M, books.K, books.D);
        quantizer.SetCodebooks(books);
        using var x = tensor(features, [N, D]);
        using var codes = quantizer.Encode(x);
        return codes.data<long>().ToArray();
    }

    [Fact]
    public void NetworkHardAssignmentAgreesWithTheCSharpCodebooks()
    {
        var books = TestCodebooks.Random(M, K, D, seed: 21);
        var features = Features(22);

        var network = NetworkCodes(books, features);

        for (int i = 0; i < N; i++)
        {
            var expected = books.EncodeHard(features.AsSpan(i * D, D));
            Assert.Equal(expected.Select(b => (long)b), network.AsSpan(i * M, M).ToArray());
        }
    }

    [Fact]
    public void FirstLevelsEqualTheCodeOfAShorterQuantizer()
    {
        var books = TestCodebooks.Random(M, K, D, seed: 23);
        var features = Features(24);
        var full = NetworkCodes(books, features);
        for (int m = 1; m < M; m++)
        {
            var prefix = NetworkCodes(books.Prefix(m), features);
            for (int i = 0; i < N; i++) Assert.Equal(full.AsSpan(i * M, m).ToArray(), prefix.AsSpan(i * m, m).ToArray());
        }
    }

    [Fact]
    public void HardCodewordsAreTheIndexedRowsAndPassOnTheResidual()
    {
        var books = TestCodebooks.Random(M, K, D, seed: 25);
        using var quantizer = new ProgressiveQuantizer(M, K, D);
        quantizer.SetCodebooks(books);
        quantizer.SetTemperature(0.2, [1, 1, 1, 1]);
        using var scope = NewDisposeScope();
        var x = tensor(Features(26), [N, D]);

        var output = quantizer.Forward(x, soft: true);

        var codes = output.Codes.data<long>().ToArray();
        var residual = x.clone();
        for (int l = 0; l < M; l++)
        {
            var hard = output.Hard[l].data<float>().ToArray();
            for (int i = 0; i < N; i += 37)
                Assert.Equal(books.Codeword(l, (int)codes[i * M + l]).ToArray(), hard.AsSpan(i * D, D).ToArray());
            // The level's choice is the nearest codeword to what the earlier hard codewords left.
            var nearest = quantizer.Levels[l].NearestIndex(residual).data<long>().ToArray();
            for (int i = 0; i < N; i++) Assert.Equal(codes[i * M + l], nearest[i]);
            residual = residual - output.Hard[l];
            // Soft codewords are convex combinations: inside the codebook's bounding box.
            var soft = output.Soft[l];
            Assert.True(soft.le(quantizer.Levels[l].Codebook.max(0).values + 1e-5f).all().item<bool>());
        }
    }

    [Fact]
    public void SoftAssignmentApproachesHardAsTheTemperatureFalls()
    {
        var books = TestCodebooks.Random(1, K, D, seed: 27);
        using var quantizer = new ProgressiveQuantizer(1, K, D);
        quantizer.SetCodebooks(books);
        using var scope = NewDisposeScope();
        var x = tensor(Features(28), [N, D]);
        double Gap(double temperature)
        {
            quantizer.SetTemperature(temperature, [1]);
            var a = quantizer.Levels[0].Assign(x, soft: true);
            return (a.Soft! - a.Hard).abs().mean().item<float>();
        }
        Assert.True(Gap(1e-4) < 1e-3);
        Assert.True(Gap(10) > Gap(0.1));
    }

    [Fact]
    public void SemanticLossByHand()
    {
        using var scope = NewDisposeScope();
        // Feature on its own label's axis: every margin is satisfied, loss 0. On another class's
        // axis: margin 2 for that class and 1 for the other C - 2, mean over C - 1: C / (C - 1).
        var labels = tensor(new long[] { 2, 2 });
        var feature = zeros(2, 12);
        feature[0, 2] = tensor(0.7f);
        feature[1, 5] = tensor(0.7f);
        var loss = DpqLosses.Semantic(feature, labels, classes: 10).item<float>();
        Assert.Equal((0 + 10 / 9.0) / 2, loss, 5);
    }

    [Fact]
    public void QuantizationLossIsZeroOnlyForAnExactReconstruction()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        var half = x / 2;
        var none = zeros_like(x);
        // Every level exact (the first codeword is x, the second adds nothing): zero.
        Assert.Equal(0f, DpqLosses.Quantization(x, [x, none], [x, none]).item<float>(), 6);
        // Two halves are exact only at level 2; level 1 pays MSE(x, x/2) for soft and for hard.
        var levelOne = (x / 2).square().mean().item<float>();
        Assert.Equal(2 * levelOne, DpqLosses.Quantization(x, [half, half], [half, half]).item<float>(), 5);
        // Soft and hard disagreeing at the last level adds 0.1 MSE(Qs(M), Qh(M)) on top.
        var withGap = DpqLosses.Quantization(x, [half], [x]).item<float>();
        Assert.Equal(levelOne + 0 + 0.1f * levelOne, withGap, 5);
    }
}
