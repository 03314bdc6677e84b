using Dpq.Quantization;

namespace Dpq.Tests.Quantization;

public sealed class CodebooksTests
{
    [Fact]
    public void EncodesGreedilyOnTheResidualByHand()
    {
        // Level 0: codewords (0,0) and (4,0); level 1: (1,1) and (-1,0). Feature (3,1):
        // level 0 picks (4,0) (distance 2 vs 10), residual (-1,1); level 1 picks (1,1)? distance 4, (-1,0): distance 1 -> index 1.
        var books = new Codebooks(2, 2, 2, [0, 0, 4, 0, 1, 1, -1, 0]);

        var code = books.EncodeHard([3, 1]);

        Assert.Equal(new byte[] { 1, 1 }, code);
        var reconstruction = new float[2];
        books.Decode(code, reconstruction);
        Assert.Equal(new float[] { 3, 0 }, reconstruction);
    }

    [Fact]
    public void BreaksATieTowardsTheLowerIndex()
    {
        var books = new Codebooks(1, 2, 1, [-1, 1]);
        Assert.Equal(0, books.EncodeHard([0])[0]);
    }

    [Fact]
    public void FirstLevelsOfACodeAreTheCodeOfThePrefixModel()
    {
        var books = TestCodebooks.Random(4, 16, 12, seed: 3);
        var rng = new Random(4);
        for (int trial = 0; trial < 200; trial++)
        {
            var x = TestCodebooks.RandomVector(rng, 12);
            var full = books.EncodeHard(x);
            for (int m = 1; m <= 4; m++) Assert.Equal(full[..m], books.Prefix(m).EncodeHard(x));
        }
    }

    [Fact]
    public void EachLevelPicksTheNearestCodewordToItsResidual()
    {
        var books = TestCodebooks.Random(3, 8, 5, seed: 5);
        var rng = new Random(6);
        for (int trial = 0; trial < 100; trial++)
        {
            var x = TestCodebooks.RandomVector(rng, 5);
            var code = books.EncodeHard(x);
            var residual = (float[])x.Clone();
            for (int l = 0; l < 3; l++)
            {
                for (int k = 0; k < 8; k++)
                    Assert.True(VectorMath.SquaredDistance(residual, books.Codeword(l, code[l])) <= VectorMath.SquaredDistance(residual, books.Codeword(l, k)));
                var word = books.Codeword(l, code[l]);
                for (int i = 0; i < 5; i++) residual[i] -= word[i];
            }
        }
    }

    [Fact]
    public void LookupTableSumIsTheInnerProductWithTheReconstruction()
    {
        var books = TestCodebooks.Random(4, 16, 24, seed: 7);
        var rng = new Random(8);
        for (int trial = 0; trial < 50; trial++)
        {
            var query = TestCodebooks.RandomVector(rng, 24);
            var code = books.EncodeHard(TestCodebooks.RandomVector(rng, 24));
            for (int levels = 1; levels <= 4; levels++)
            {
                var tables = books.LookupTables(query, levels);
                Assert.Equal(levels * 16, tables.Length);
                float sum = 0;
                for (int l = 0; l < levels; l++) sum += tables[l * 16 + code[l]];
                var reconstruction = new float[24];
                books.Decode(code.AsSpan(0, levels), reconstruction);
                Assert.Equal(VectorMath.Dot(query, reconstruction), sum, 4);
            }
        }
    }

    [Fact]
    public void RejectsInconsistentShapes()
    {
        Assert.Throws<ArgumentException>(() => new Codebooks(2, 4, 3, new float[23]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Codebooks(1, 3, 1, new float[3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Codebooks(1, 512, 1, new float[512]));
        Assert.Throws<ArgumentException>(() => TestCodebooks.Random(1, 4, 3, 1).EncodeHard([1, 2]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(33)]
    public void VectorMathMatchesAScalarLoop(int length)
    {
        var rng = new Random(length);
        var a = TestCodebooks.RandomVector(rng, length);
        var b = TestCodebooks.RandomVector(rng, length);
        double dot = 0, distance = 0;
        for (int i = 0; i < length; i++)
        {
            dot += a[i] * b[i];
            distance += (a[i] - b[i]) * (a[i] - b[i]);
        }
        Assert.Equal(dot, VectorMath.Dot(a, b), 4);
        Assert.Equal(distance, VectorMath.SquaredDistance(a, b), 4);
    }
}
