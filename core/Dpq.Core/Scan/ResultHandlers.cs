namespace Dpq.Scan;

/// <summary>
/// Where a float kernel sends items. Kernels skip items below <see cref="Threshold"/> without a call,
/// so the result policy stays out of the inner loop (FAISS simd_result_handlers).
/// </summary>
internal interface IScoreHandler
{
    float Threshold { get; }

    void Offer(int item, float score);
}

/// <summary>The same for kernels that sum 8-bit tables into integer approximate scores.</summary>
internal interface IApproxHandler
{
    int Threshold { get; }

    void Offer(int item, int approx);
}
