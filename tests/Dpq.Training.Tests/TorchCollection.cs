namespace Dpq.Training.Tests;

/// <summary>Tests that seed TorchSharp's global generator run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "torch";
}
