using System.Runtime.InteropServices;

namespace Dpq.Cli.Faults;

/// <summary>POSIX signals to one process by id (.NET's Process.Kill sends only SIGKILL).</summary>
internal static partial class Signals
{
    private const int SigTerm = 15;

    /// <summary>Asks process <paramref name="pid"/> to exit (SIGTERM); false when there is no such process.</summary>
    public static bool Terminate(int pid) => Kill(pid, SigTerm) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
