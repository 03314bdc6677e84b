using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training.Tests;

/// <summary>TorchSharp's native library loads here and trains: the compatibility step worked.</summary>
public sealed class TorchSharpLoadsTests
{
    [Fact]
    public void ForwardAndBackwardThroughASmallNetworkReduceTheLoss()
    {
        random.manual_seed(7);
        using var net = nn.Sequential(
            ("conv", nn.Conv2d(1, 4, 3, padding: 1)), ("relu", nn.ReLU()),
            ("flat", nn.Flatten()), ("fc", nn.Linear(4 * 8 * 8, 2)));
        using var x = randn(16, 1, 8, 8);
        using var y = cat([zeros(8, ScalarType.Int64), ones(8, ScalarType.Int64)]);
        using (no_grad()) x[TensorIndex.Slice(8)].add_(1.0); // make the two classes separable
        using var opt = optim.Adam(net.parameters(), lr: 0.05);

        float first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(net.call(x), y);
            loss.backward();
            opt.step();
            if (step == 0) first = loss.item<float>();
            last = loss.item<float>();
        }

        Assert.All(net.parameters(), p => Assert.NotNull(p.grad));
        Assert.True(last < first * 0.5f, $"loss went from {first} to {last}");
    }
}
