namespace Dpq.Infra.Tests;

/// <summary>
/// Trace sampling (main.bicep's telemetrySamplingRatio): one ratio for the query app, the intake app, the
/// worker and the job alike, so that the exporters' decisions, made by trace id, keep or drop a trace that
/// crosses components as a whole; empty leaves each exporter to its own rate limit; a value the code
/// could not read is refused.
/// </summary>
public sealed class TelemetrySamplingTests
{
    private const string Setting = "DpqTelemetry__samplingRatio";

    private static string DefaultRatio =>
        CompiledTemplates.Root("main.bicep").GetProperty("parameters").GetProperty("telemetrySamplingRatio").GetProperty("defaultValue").GetString()!;

    [Fact]
    public void EveryComponentSamplesAtTheDefaultRatio()
    {
        var ratio = DefaultRatio;
        Assert.InRange(double.Parse(ratio, System.Globalization.CultureInfo.InvariantCulture), 0.0, 1.0);
        Assert.All(DeploymentSnapshots.Of().ComponentSettings, c => Assert.True(
            c.Settings.TryGetValue(Setting, out var value) && value == ratio, $"{c.Component}: {value ?? "not set"}"));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("0.25")]
    [InlineData("0")]
    public void EveryComponentSamplesAtTheRatioGiven(string ratio)
    {
        var components = DeploymentSnapshots.Of(("telemetrySamplingRatio", $"'{ratio}'")).ComponentSettings.ToList();
        Assert.Equal(4, components.Count);
        Assert.All(components, c => Assert.True(
            c.Settings.TryGetValue(Setting, out var value) && value == ratio, $"{c.Component}: {value ?? "not set"}"));
    }

    [Fact]
    public void EmptyLeavesEveryComponentToItsExportersRateLimit() =>
        Assert.All(DeploymentSnapshots.Of(("telemetrySamplingRatio", "''")).ComponentSettings,
            c => Assert.False(c.Settings.ContainsKey(Setting), $"{c.Component} has {Setting}"));

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("ten")]
    [InlineData("0,5")]
    public void ARatioOutsideZeroToOneIsRefused(string ratio)
    {
        var refusal = DeploymentSnapshots.Refusal(("telemetrySamplingRatio", $"'{ratio}'"));
        Assert.Contains($"telemetrySamplingRatio '{ratio}'", refusal);
        Assert.Contains("a number from 0 to 1", refusal);
    }
}
