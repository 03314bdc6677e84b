using Dpq.Evaluation;
using Dpq.Tests.Quantization;

namespace Dpq.Tests.Evaluation;

public sealed class CopyRetrievalTests
{
    /// <summary>n random items, the last <paramref name="copies"/> of them the copies; codes from the codebooks.</summary>
    private static (CopyRetrieval Retrieval, float[] Features, int FirstCopy) Make(int n, int copies, bool duplicateFirstCopy = false, int levels = 2)
    {
        var books = TestCodebooks.Random(levels, 16, 8, seed: 4, scaleDecay: 0.5f);
        var rng = new Random(5);
        var features = new float[n * 8];
        for (int i = 0; i < features.Length; i++) features[i] = (float)(rng.NextDouble() * 2 - 1);
        int first = n - copies;
        if (duplicateFirstCopy) features.AsSpan(first * 8, 8).CopyTo(features.AsSpan(0, 8)); // item 0 equals copy 0
        var codes = new byte[n * levels];
        for (int i = 0; i < n; i++) books.EncodeHard(features.AsSpan(i * 8, 8), codes.AsSpan(i * levels, levels));
        return (new CopyRetrieval(books, codes, features, first), features, first);
    }

    [Fact]
    public void ExactFloatQueriesFindEveryCopyFirst()
    {
        var (retrieval, features, first) = Make(500, 20);
        var queries = features.AsSpan(first * 8).ToArray();
        Assert.Equal(new CopyResult(1, 1), retrieval.Evaluate(queries, 2, CopyScoring.FloatFeature));
    }

    [Fact]
    public void TiesGoAgainstTheCopies()
    {
        var (retrieval, features, first) = Make(500, 20, duplicateFirstCopy: true);
        var queries = features.AsSpan(first * 8).ToArray();
        var result = retrieval.Evaluate(queries, 2, CopyScoring.FloatFeature);
        Assert.Equal(19 / 20.0, result.CopyAt1); // copy 0 ties with item 0, which comes first
        Assert.Equal(1, result.CopyAt10);
    }

    [Fact]
    public void TheNormTermFindsCopiesThatTheInnerProductMisses()
    {
        var (retrieval, features, first) = Make(1000, 100, levels: 4);
        var queries = features.AsSpan(first * 8).ToArray();
        var inner = retrieval.Evaluate(queries, 4, CopyScoring.InnerProduct);
        var distance = retrieval.Evaluate(queries, 4, CopyScoring.SquaredDistance);
        Assert.True(distance.CopyAt10 > inner.CopyAt10 + 0.2, $"squared distance {distance.CopyAt10:P0}, inner product {inner.CopyAt10:P0}");
    }
}
