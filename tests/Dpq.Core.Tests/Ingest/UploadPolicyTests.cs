using Dpq.Ingest;

namespace Dpq.Tests.Ingest;

public sealed class UploadPolicyTests
{
    [Theory]
    [InlineData("a/../b.png", "'..' segment")]
    [InlineData("a/./b.png", "'.' or '..' segment")]
    [InlineData("a\\b.png", "backslash")]
    [InlineData("/b.png", "empty folder segment")]
    [InlineData("a//b.png", "empty folder segment")]
    [InlineData("shop./b.png", "ends with a dot")]
    [InlineData("shop /b.png", "ends with a dot or a space")]
    public void NamesThatStorageWouldRewriteAreRefusedWithTheReason(string name, string reason)
    {
        Assert.Contains(reason, UploadPolicy.Default.CheckName(name));
    }

    [Theory]
    [InlineData("b.png")]
    [InlineData("shop/2026/shoe.v2.jpg")]
    [InlineData("ünïcode/名前.png")]
    public void OrdinaryNamesPass(string name) => Assert.Null(UploadPolicy.Default.CheckName(name));
}
