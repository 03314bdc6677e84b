using Dpq.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Dpq.Training.Network;

/// <summary>All levels for a batch: soft and hard codewords per level (N x D each) and the codes (N x M, int64).</summary>
public sealed record QuantizerOutput(IReadOnlyList<Tensor> Soft, IReadOnlyList<Tensor> Hard, Tensor Codes);

/// <summary>
/// M <see cref="QuantizationBlock"/>s applied progressively: r_1 = x, level m assigns r_m, and
/// r_(m+1) = r_m - hard codeword. Only the hard residual is passed on, so the first m codes never
/// depend on levels after m (the prefix property).
/// </summary>
public sealed class ProgressiveQuantizer : nn.Module
{
    private readonly ModuleList<QuantizationBlock> levels;

    public ProgressiveQuantizer(int m, int k, int d) : base("quantizer")
    {
        (M, K, D) = (m, k, d);
        levels = new ModuleList<QuantizationBlock>();
        for (int l = 0; l < m; l++) levels.Add(new QuantizationBlock(k, d, $"level{l}"));
        RegisterComponents();
    }

    public int M { get; }
    public int K { get; }
    public int D { get; }
    public IReadOnlyList<QuantizationBlock> Levels => [.. levels];

    /// <summary>Runs every level; soft codewords only when <paramref name="soft"/> (training).</summary>
    public QuantizerOutput Forward(Tensor x, bool soft)
    {
        var softWords = new List<Tensor>(M);
        var hardWords = new List<Tensor>(M);
        var codes = new List<Tensor>(M);
        var residual = x;
        foreach (var level in levels)
        {
            var a = level.Assign(residual, soft);
            if (a.Soft is not null) softWords.Add(a.Soft);
            hardWords.Add(a.Hard);
            codes.Add(a.Index);
            residual = residual - a.Hard;
        }
        return new QuantizerOutput(softWords, hardWords, stack(codes, 1));
    }

    /// <summary>Hard codes only (N x M, int64), without building a graph for the caller.</summary>
    public Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return Forward(x, soft: false).Codes.MoveToOuterDisposeScope();
    }

    public void SetCodebooks(Codebooks books)
    {
        if (books.M != M || books.K != K || books.D != D)
            throw new ArgumentException($"codebooks are {books.M}x{books.K}x{books.D}, quantizer is {M}x{K}x{D}", nameof(books));
        using var _ = no_grad();
        for (int l = 0; l < M; l++)
        {
            using var values = tensor(books.Level(l).ToArray(), [K, D]);
            levels[l].Codebook.copy_(values);
        }
    }

    public Codebooks ToCodebooks()
    {
        var data = new float[M * K * D];
        for (int l = 0; l < M; l++)
        {
            using var cpuBook = levels[l].Codebook.detach().cpu().contiguous();
            cpuBook.data<float>().CopyTo(data, l * K * D);
        }
        return new Codebooks(M, K, D, data);
    }

    /// <summary>Sets every level's temperature and its scale (scales.Count == M).</summary>
    public void SetTemperature(double temperature, IReadOnlyList<double> scales)
    {
        if (scales.Count != M) throw new ArgumentException($"{scales.Count} scales for {M} levels", nameof(scales));
        for (int l = 0; l < M; l++)
        {
            levels[l].Temperature = temperature;
            levels[l].Scale = scales[l] > 0 ? scales[l] : 1.0;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var level in levels) level.Dispose();
            levels.Dispose();
            ClearModules();
        }
        base.Dispose(disposing);
    }
}
