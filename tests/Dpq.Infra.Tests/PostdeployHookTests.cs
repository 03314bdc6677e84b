using System.Diagnostics;
using System.Text.Json;

namespace Dpq.Infra.Tests;

/// <summary>
/// The azd postdeploy hook (scripts/azd-postdeploy.sh), run with bash as azure.yaml runs it, with a
/// stand-in `az` first on PATH that logs every call and answers the intake app's key lookup with nothing until a chosen try:
/// the hook waits for the key a bounded number of times, then deploys the subscription template with
/// the values of azd's environment, and fails with a message that says what is wrong otherwise.
/// </summary>
public sealed class PostdeployHookTests : IDisposable
{
    public static readonly string Script = Path.Combine(BicepCli.RepoRoot, "scripts", "azd-postdeploy.sh");

    /// <summary>main.bicep's outputs the hook reads from azd's environment.</summary>
    public static readonly string[] OutputsTheHookReads = ["AZURE_RESOURCE_GROUP", "AZURE_EVENTGRID_SYSTEM_TOPIC", "AZURE_INTAKE_FUNCTION_APP_NAME"];

    private const string Subscription = "sub-1234";
    private const string ResourceGroup = "rg-dpq-test";
    private const string Topic = "evgt-dpq-test";
    private const string IntakeApp = "func-dpq-intake-test";

    // Logs its arguments (separated by \x1f, a call a line); answers the key lookup from the
    // FAKE_AZ_KEY_AT-th try on (never when 0), failing each lookup with FAKE_AZ_LOOKUP_ERROR when set.
    private const string FakeAz = """
        #!/usr/bin/env bash
        { printf '%s\x1f' "$@"; printf '\n'; } >> "$FAKE_AZ_DIR/calls"
        case "$1 $2 $3" in
          "functionapp keys list")
            tries=$(( $(cat "$FAKE_AZ_DIR/lookups" 2>/dev/null || echo 0) + 1 ))
            echo "$tries" > "$FAKE_AZ_DIR/lookups"
            if [ -n "${FAKE_AZ_LOOKUP_ERROR:-}" ]; then echo "$FAKE_AZ_LOOKUP_ERROR" >&2; exit 1; fi
            if [ "$FAKE_AZ_KEY_AT" -gt 0 ] && [ "$tries" -ge "$FAKE_AZ_KEY_AT" ]; then echo "fake-blobs-key"; fi ;;
          "deployment group create") ;;
          *) echo "fake az: unexpected call: $*" >&2; exit 2 ;;
        esac
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("dpq-hook-").FullName;

    public PostdeployHookTests()
    {
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        var az = Path.Combine(bin, "az");
        File.WriteAllText(az, FakeAz.ReplaceLineEndings("\n") + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(az, File.GetUnixFileMode(az) | UnixFileMode.UserExecute);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int ExitCode, string Err) Run(int keyAt, Action<IDictionary<string, string?>>? change = null)
    {
        var psi = new ProcessStartInfo("bash")
        {
            ArgumentList = { Script },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _dir, // it finds its template from its own path, wherever it is run from
        };
        var env = psi.Environment;
        env["PATH"] = $"{Path.Combine(_dir, "bin")}:{Environment.GetEnvironmentVariable("PATH")}";
        env["AZURE_SUBSCRIPTION_ID"] = Subscription;
        env["AZURE_RESOURCE_GROUP"] = ResourceGroup;
        env["AZURE_EVENTGRID_SYSTEM_TOPIC"] = Topic;
        env["AZURE_INTAKE_FUNCTION_APP_NAME"] = IntakeApp;
        env["DPQ_KEY_ATTEMPTS"] = "4";
        env["DPQ_KEY_INTERVAL_SECONDS"] = "0";
        env["FAKE_AZ_DIR"] = _dir;
        env["FAKE_AZ_KEY_AT"] = keyAt.ToString(System.Globalization.CultureInfo.InvariantCulture);
        change?.Invoke(env);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "the hook did not finish within 60 s");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private List<string[]> Calls()
    {
        var log = Path.Combine(_dir, "calls");
        return File.Exists(log) ? File.ReadAllLines(log).Select(l => l.Split('\x1f')[..^1]).ToList() : [];
    }

    private static bool Is(string[] call, params string[] command) => call.Take(command.Length).SequenceEqual(command);

    private static string? Option(string[] call, string name)
    {
        var at = Array.IndexOf(call, name);
        return at >= 0 && at + 1 < call.Length ? call[at + 1] : null;
    }

    /// <summary>The name=value pairs after -p, up to the next option.</summary>
    private static Dictionary<string, string> Parameters(string[] call) =>
        call.SkipWhile(a => a != "-p").Skip(1).TakeWhile(a => !a.StartsWith('-'))
            .Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    [Fact]
    public void WaitsForTheKeyThenDeploysTheSubscriptionsWithAzdsValues()
    {
        var (exitCode, output) = Run(keyAt: 3);
        Assert.True(exitCode == 0, output);
        var calls = Calls();
        Assert.Equal(4, calls.Count);
        Assert.All(calls.Take(3), c => Assert.True(Is(c, "functionapp", "keys", "list"), string.Join(' ', c)));
        foreach (var lookup in calls.Take(3))
        {
            Assert.Equal(IntakeApp, Option(lookup, "-n"));
            Assert.Equal(ResourceGroup, Option(lookup, "-g"));
            Assert.Equal(Subscription, Option(lookup, "--subscription"));
            Assert.Equal("systemKeys.blobs_extension", Option(lookup, "--query"));
        }
        var deploy = calls[3];
        Assert.True(Is(deploy, "deployment", "group", "create"), string.Join(' ', deploy));
        Assert.Equal(Path.Combine(BicepCli.InfraDir, "eventgrid-subscription.bicep"), Path.GetFullPath(Option(deploy, "-f")!));
        Assert.Equal(ResourceGroup, Option(deploy, "-g"));
        Assert.Equal(Subscription, Option(deploy, "--subscription"));
        Assert.Equal(new Dictionary<string, string> { ["systemTopicName"] = Topic, ["intakeAppName"] = IntakeApp }, Parameters(deploy));
        Assert.DoesNotContain(deploy, a => a.Contains("fake-blobs-key", StringComparison.Ordinal)); // the template reads the key itself
        Assert.Contains("try 2 of 4", output);
    }

    [Fact]
    public void PassesExactlyTheParametersTheTemplateHasNoDefaultFor()
    {
        Assert.Equal(0, Run(keyAt: 1).ExitCode);
        var deploy = Assert.Single(Calls(), c => Is(c, "deployment", "group", "create"));
        var parameters = CompiledTemplates.Root("eventgrid-subscription.bicep").GetProperty("parameters").EnumerateObject().ToList();
        Assert.Equal(parameters.Where(p => !p.Value.TryGetProperty("defaultValue", out _)).Select(p => p.Name).Order(), Parameters(deploy).Keys.Order());
    }

    [Fact]
    public void FailsReadablyWhenTheKeyNeverAppears()
    {
        var (exitCode, output) = Run(keyAt: 0);
        Assert.NotEqual(0, exitCode);
        Assert.Equal(4, Calls().Count(c => Is(c, "functionapp", "keys", "list"))); // bounded
        Assert.DoesNotContain(Calls(), c => Is(c, "deployment"));
        Assert.Contains($"the intake app {IntakeApp} has no blobs_extension system key after 4 tries", output);
        Assert.Contains("azd deploy intake", output);
    }

    [Fact]
    public void AFailingLookupIsRetriedAndItsLastErrorReported()
    {
        var (exitCode, output) = Run(keyAt: 1, env => env["FAKE_AZ_LOOKUP_ERROR"] = "ERROR: (AuthorizationFailed) no access");
        Assert.NotEqual(0, exitCode);
        Assert.Equal(4, Calls().Count);
        Assert.Contains("The last lookup said: ERROR: (AuthorizationFailed) no access", output);
    }

    [Theory]
    [InlineData("AZURE_SUBSCRIPTION_ID")]
    [InlineData("AZURE_RESOURCE_GROUP")]
    [InlineData("AZURE_EVENTGRID_SYSTEM_TOPIC")]
    [InlineData("AZURE_INTAKE_FUNCTION_APP_NAME")]
    public void AMissingVariableStopsItBeforeAnyCall(string variable)
    {
        var (exitCode, output) = Run(keyAt: 1, env => env.Remove(variable));
        Assert.NotEqual(0, exitCode);
        Assert.Contains($"error: {variable} not set", output);
        Assert.Empty(Calls());
    }

    [Fact]
    public void ABadBoundStopsItBeforeAnyCall()
    {
        var (exitCode, output) = Run(keyAt: 1, env => env["DPQ_KEY_ATTEMPTS"] = "many");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("DPQ_KEY_ATTEMPTS must be a whole number (got 'many')", output);
        Assert.Empty(Calls());
    }

    [Fact]
    public void TheTemplateItDeploysDefinesBothSubscriptions()
    {
        var names = CompiledTemplates.Resources("eventgrid-subscription.bicep")
            .Where(r => CompiledTemplates.Type(r) == "Microsoft.EventGrid/systemTopics/eventSubscriptions")
            .Select(r => JsonSerializer.Serialize(r.GetProperty("name"))).ToList();
        Assert.Equal(2, names.Count);
        Assert.Contains(names, n => n.Contains("blob-upload-trigger", StringComparison.Ordinal));
        Assert.Contains(names, n => n.Contains("blob-deleted", StringComparison.Ordinal));
    }
}
