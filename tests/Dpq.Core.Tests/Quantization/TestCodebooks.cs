using Dpq.Quantization;

namespace Dpq.Tests.Quantization;

/// <summary>Random codebooks and vectors for tests, each level scaled down from the one before.</summary>
internal static class TestCodebooks
{
    public static Codebooks Random(int m, int k, int d, int seed, float scaleDecay = 0.5f)
    {
        var rng = new Random(seed);
        var data = new float[m * k * d];
        for (int l = 0; l < m; l++)
            for (int i = 0; i < k * d; i++) data[l * k * d + i] = (float)(rng.NextDouble() * 2 - 1) * MathF.Pow(scaleDecay, l);
        return new Codebooks(m, k, d, data);
    }

    public static float[] RandomVector(Random rng, int d) => [.. Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
}
