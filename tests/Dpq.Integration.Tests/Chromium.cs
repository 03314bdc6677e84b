namespace Dpq.Integration.Tests;

/// <summary>The system Chromium the browser tests drive (Debian's package; DPQ_CHROMIUM names another); no browser is downloaded.</summary>
public static class Chromium
{
    public static string Path => Environment.GetEnvironmentVariable("DPQ_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static bool IsInstalled => File.Exists(Path);
}

/// <summary>A test that needs Chromium and storage: skipped, with the reason, where it is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Prerequisites.Missing is { } missing) Skip = missing;
        else if (!Chromium.IsInstalled) Skip = $"Chromium is not installed at {Chromium.Path} (Debian: apt-get install chromium; or set DPQ_CHROMIUM)";
    }
}
