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

    [Theory]
    [InlineData("a.png", "image/png")]
    [InlineData("a.jpg", "image/jpeg")]
    [InlineData("a.JPEG", "image/jpeg")]
    [InlineData("a.gif", "image/gif")]
    [InlineData("a.webp", "image/webp")]
    [InlineData("a.bmp", "image/bmp")]
    [InlineData("a.BMP", "image/x-ms-bmp")]
    [InlineData("a.webp", "application/octet-stream")]
    [InlineData("a.gif", null)]
    public void EveryDecodedFormatIsAcceptedByExtensionAndContentType(string name, string? contentType) =>
        Assert.Null(UploadPolicy.Default.Check(name, 100, contentType));

    [Theory]
    [InlineData("a.tiff", null, "'.tiff' is not an accepted image extension (.bmp, .gif, .jpeg, .jpg, .png, .webp)")]
    [InlineData("a.heic", null, "not an accepted image extension")]
    [InlineData("a.png", "image/tiff", "content type 'image/tiff' is not an accepted image type")]
    [InlineData("a.gif", "image/svg+xml", "is not an accepted image type")]
    public void OtherFormatsAreRefusedWithTheReason(string name, string? contentType, string reason) =>
        Assert.Contains(reason, UploadPolicy.Default.Check(name, 100, contentType));
}
