using System.Text;
using Dpq.Query;

namespace Dpq.Tests.Query;

public sealed class QueryRequestParserTests
{
    private static QueryRequest Json(string body) =>
        QueryRequestParser.Parse("application/json", Encoding.UTF8.GetBytes(body), _ => null, new QueryOptions());

    private static QueryRequest Image(string labels) =>
        QueryRequestParser.Parse("image/png", new byte[] { 1 }, p => p == "labels" ? labels : null, new QueryOptions());

    [Fact]
    public void LabelsAreClassNamesAndWholeNumbersReadAsTheirText()
    {
        var request = Json("{\"id\": \"a.png\", \"labels\": [\"Ankle boot\", \"T-shirt/top\", 3, \"\\u00c9charpe\"]}");
        Assert.Equal(["3", "Ankle boot", "T-shirt/top", "Écharpe"], request.Labels!.Order(StringComparer.Ordinal));
        Assert.Equal(["Bag", "Sandal"], Image("Bag, Sandal")!.Labels!.Order(StringComparer.Ordinal));
        Assert.Null(Json("{\"id\": \"a.png\"}").Labels);
    }

    [Fact]
    public void AFilterComesFromTheJsonBodyOrTheQueryString()
    {
        Assert.Equal("label eq 'Bag'", Json("{\"id\": \"a.png\", \"filter\": \"label eq 'Bag'\"}").Filter);
        Assert.Null(Json("{\"id\": \"a.png\"}").Filter);
        var image = QueryRequestParser.Parse("image/png", new byte[] { 1 }, p => p == "filter" ? "level1Code eq 7" : null, new QueryOptions());
        Assert.Equal("level1Code eq 7", image.Filter);
    }

    [Theory]
    [InlineData("{\"id\": \"a.png\", \"filter\": 3}", "must be a string")]
    [InlineData("{\"id\": \"a.png\", \"filter\": \"\"}", "1 to 2048 characters")]
    [InlineData("{\"id\": \"a.png\", \"filter\": \"label eq 'a\\u0000'\"}", "control characters")]
    [InlineData("{\"id\": \"a.png\", \"filter\": \"\\ud800\"}", "lone surrogate")]
    public void BadFiltersAreRefusedWithTheReason(string body, string reason)
    {
        var e = Assert.Throws<QueryValidationException>(() => Json(body));
        Assert.Equal("Invalid filter", e.Title);
        Assert.Contains(reason, e.Detail);
        var tooLong = Assert.Throws<QueryValidationException>(() => Json($"{{\"id\": \"a.png\", \"filter\": \"{new string('x', QueryRequestParser.MaxFilterLength + 1)}\"}}"));
        Assert.Contains("2048", tooLong.Detail);
    }

    [Theory]
    [InlineData("{\"id\": \"a.png\", \"labels\": \"Bag\"}", "array of class names")]
    [InlineData("{\"id\": \"a.png\", \"labels\": []}", "must not be empty")]
    [InlineData("{\"id\": \"a.png\", \"labels\": [1.5]}", "not a whole number")]
    [InlineData("{\"id\": \"a.png\", \"labels\": [true]}", "class names (strings)")]
    [InlineData("{\"id\": \"a.png\", \"labels\": [\"b\\ud800\"]}", "lone surrogate")]
    [InlineData("{\"id\": \"a.png\", \"labels\": [\"100%\"]}", "contains '%'")]
    public void BadLabelsAreRefusedWithTheReason(string body, string reason)
    {
        var e = Assert.Throws<QueryValidationException>(() => Json(body));
        Assert.Equal("Invalid labels", e.Title);
        Assert.Contains(reason, e.Detail);
    }

    [Fact]
    public void BadLabelsInTheQueryStringAreRefused()
    {
        Assert.Contains("is empty", Assert.Throws<QueryValidationException>(() => Image("Bag,,Sandal")).Detail);
        var many = string.Join(",", Enumerable.Range(0, QueryRequestParser.MaxLabels + 1));
        Assert.Contains($"at most {QueryRequestParser.MaxLabels}", Assert.Throws<QueryValidationException>(() => Image(many)).Detail);
    }

    [Fact]
    public void AnIdLongerThanTheLimitIsRefusedSayingTheLimit()
    {
        Assert.Equal(QueryRequestParser.MaxIdLength, Json($"{{\"id\": \"{new string('a', QueryRequestParser.MaxIdLength)}\"}}").Id!.Length);
        var e = Assert.Throws<QueryValidationException>(() => Json($"{{\"id\": \"{new string('a', QueryRequestParser.MaxIdLength + 1)}\"}}"));
        Assert.Equal("Invalid id", e.Title);
        Assert.Contains($"at most {QueryRequestParser.MaxIdLength} characters", e.Detail);
    }

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
