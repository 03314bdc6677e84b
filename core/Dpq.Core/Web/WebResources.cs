using System.Text;

namespace Dpq.Web;

/// <summary>The files embedded in Dpq.Core for the HTTP functions (logical names "Dpq.Web.NAME", set in Dpq.Core.csproj).</summary>
internal static class WebResources
{
    public static byte[] Bytes(string name)
    {
        using var stream = Open(name);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public static string Text(string name)
    {
        using var reader = new StreamReader(Open(name), Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static Stream Open(string name) =>
        typeof(WebResources).Assembly.GetManifestResourceStream("Dpq.Web." + name)
        ?? throw new InvalidOperationException($"{name} is not embedded in {typeof(WebResources).Assembly.GetName().Name}");
}
