using Dpq.Query;

namespace Dpq.Tests.Query;

public sealed class QueryRequestParserTests
{
    private static readonly byte[] Body = [1, 2, 3];

    [Theory]
    [InlineData("image/png")]
    [InlineData("image/jpeg")]
    [InlineData("image/gif")]
    [InlineData("image/webp")]
    [InlineData("image/bmp")]
    [InlineData("image/x-ms-bmp")]
    [InlineData("IMAGE/WEBP; charset=binary")]
    [InlineData("application/octet-stream")]
    [InlineData(null)]
    public void AnImageQueryMayBeAnyFormatUploadsAccept(string? contentType) =>
        Assert.Equal(Body, QueryRequestParser.Parse(contentType, Body, _ => null, new QueryOptions()).Image);

    [Fact]
    public void OtherImageTypesAreRefusedNamingTheAcceptedOnes()
    {
        var e = Assert.Throws<QueryValidationException>(() => QueryRequestParser.Parse("image/tiff", Body, _ => null, new QueryOptions()));
        Assert.Contains("image/gif, image/webp, image/bmp", e.Message);
    }
}
