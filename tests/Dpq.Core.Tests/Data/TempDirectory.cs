namespace Dpq.Tests;

/// <summary>A fresh directory under the system temp folder, deleted on dispose. Test classes hold one per test.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("dpq-test-").FullName;

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
