using System.Text.Json;

namespace Dpq.Infra.Tests;

/// <summary>
/// The worker's health probes as Container Apps would get them: liveness and readiness over HTTP on the
/// port the worker is told to listen on, a startup probe that gives a starting replica longer than
/// liveness would, and every value inside the limits Container Apps accepts, which Bicep does not check.
/// </summary>
public sealed class WorkerHealthTests
{
    private static Dictionary<string, JsonElement> Probes() =>
        Snapshot.Container(DeploymentSnapshots.Of().WorkerApp).GetProperty("probes").EnumerateArray()
            .ToDictionary(p => p.GetProperty("type").GetString()!, p => p);

    private static int Int(JsonElement probe, string name, int unset) =>
        probe.TryGetProperty(name, out var value) ? value.GetInt32() : unset;

    [Theory]
    [InlineData("Liveness", "/health/live")]
    [InlineData("Readiness", "/health/ready")]
    [InlineData("Startup", "/health/live")]
    public void EachProbeGetsItsPathOnTheHealthPort(string type, string path)
    {
        var env = Snapshot.Env(DeploymentSnapshots.Of().WorkerApp);
        Assert.True(Probes().TryGetValue(type, out var probe), $"the worker has no {type} probe");
        var get = probe.GetProperty("httpGet");
        Assert.Equal(path, get.GetProperty("path").GetString());
        Assert.Equal(8080, get.GetProperty("port").GetInt32());
        Assert.Equal(env["DpqHealth__port"], get.GetProperty("port").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.False(probe.TryGetProperty("tcpSocket", out _));
    }

    [Fact]
    public void EveryValueIsOneContainerAppsAccepts()
    {
        var probes = Probes();
        Assert.Equal(["Liveness", "Readiness", "Startup"], probes.Keys.Order()); // one of each type at most
        foreach (var (type, probe) in probes)
        {
            Assert.InRange(Int(probe, "failureThreshold", 3), 1, 10);
            Assert.InRange(Int(probe, "periodSeconds", 10), 1, 240);
            Assert.InRange(Int(probe, "timeoutSeconds", 1), 1, 240);
            if (probe.TryGetProperty("initialDelaySeconds", out var delay)) Assert.InRange(delay.GetInt32(), 1, 60);
            var successes = Int(probe, "successThreshold", 1);
            if (type is "Liveness" or "Startup") Assert.Equal(1, successes); else Assert.InRange(successes, 1, 10);
        }
    }

    [Fact]
    public void AStartingReplicaHasLongerThanLivenessGivesARunningOne()
    {
        var probes = Probes();
        int Budget(JsonElement p) => Int(p, "initialDelaySeconds", 0) + Int(p, "periodSeconds", 10) * Int(p, "failureThreshold", 3);
        // A process slow to start listening must not count as a hang (the model loads later, in the drain
        // loop's passes, which /health/live allows 15 minutes of silence).
        Assert.True(Budget(probes["Startup"]) > Budget(probes["Liveness"]), $"startup {Budget(probes["Startup"])} s, liveness {Budget(probes["Liveness"])} s");
        Assert.True(Budget(probes["Startup"]) >= 120, $"startup gives {Budget(probes["Startup"])} s");
    }
}
