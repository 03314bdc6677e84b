using System.Net;
using System.Net.Sockets;

namespace Dpq.Integration.Tests;

/// <summary>A loopback port free right now (the system picks it), for a server a test starts.</summary>
internal static class LoopbackPort
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
