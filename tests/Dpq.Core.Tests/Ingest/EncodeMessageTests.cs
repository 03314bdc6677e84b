using Dpq.Ingest;

namespace Dpq.Core.Tests.Ingest;

public sealed class EncodeMessageTests
{
    private static EncodeRequest Request(int i) => EncodeRequest.For($"imports/a-{i}.png", $"\"0x{i:X}\"", 100 + i, DateTimeOffset.UnixEpoch.AddSeconds(i));

    [Fact]
    public void APackedMessageParsesBackToTheSameRequestsInOrder()
    {
        var requests = Enumerable.Range(0, 50).Select(Request).ToList();
        Assert.Equal(requests, EncodeMessage.Parse(EncodeMessage.Pack(requests)));
    }

    [Fact]
    public void TheTriggersSingleRequestMessageParsesAsOneRequest()
    {
        var request = Request(7);
        Assert.Equal([request], EncodeMessage.Parse(request.ToJson()));
    }

    [Fact]
    public void ABodyOfTheLargestSizeFitsTheQueueLimitAfterBase64()
    {
        Assert.True((EncodeMessage.MaxBodyBytes + 2) / 3 * 4 <= 64 * 1024);
    }

    [Fact]
    public void SizesInBodyAddUpToThePackedLengthEvenForNamesJsonEscapes()
    {
        // Non-ASCII characters and quotes are written as \uXXXX: six bytes each.
        var name = "imports/" + new string('\u6587', 300) + "\"x\".png";
        var requests = Enumerable.Range(0, 9).Select(i => EncodeRequest.For($"{name}-{i}.png", "\"0x8DD0123456789AB\"", 1000, DateTimeOffset.UtcNow)).ToList();
        var body = EncodeMessage.Pack(requests);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(body), EncodeMessage.EmptyBodyBytes + requests.Sum(EncodeMessage.SizeInBody) - 1);
        Assert.True(EncodeMessage.SizeInBody(requests[0]) > 6 * 300);
    }

    [Fact]
    public void PackingMoreThanAMessageHoldsIsRefused()
    {
        var name = "imports/" + new string('\u6587', 500);
        var requests = Enumerable.Range(0, 64).Select(i => EncodeRequest.For($"{name}-{i}.png", null, 1000, DateTimeOffset.UtcNow)).ToList();
        Assert.Contains("a message holds at most", Assert.Throws<ArgumentException>(() => EncodeMessage.Pack(requests)).Message);
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{\"requests\": []}", "no requests")]
    [InlineData("{\"requests\": null}", "no requests")]
    [InlineData("{\"requests\": [{\"requestId\": \"abc\"}]}", "no blob name or request id")]
    [InlineData("{\"blobName\": \"a.png\"}", "no blob name or request id")]
    public void MalformedMessagesAreRefusedWithTheReason(string body, string reason)
    {
        var e = Assert.Throws<FormatException>(() => EncodeMessage.Parse(body));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void PackingNothingOrTooMuchIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EncodeMessage.Pack([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => EncodeMessage.Pack([.. Enumerable.Range(0, EncodeMessage.MaxRequests + 1).Select(Request)]));
        var tooMany = "{\"requests\": [" + string.Join(",", Enumerable.Range(0, EncodeMessage.MaxRequests + 1).Select(i => Request(i).ToJson())) + "]}";
        Assert.Contains("the limit is", Assert.Throws<FormatException>(() => EncodeMessage.Parse(tooMany)).Message);
    }

    [Theory]
    [InlineData("{\"blobName\": \"a\\ud800.png\", \"requestId\": \"r\"}")]
    [InlineData("{\"requests\": [{\"blobName\": \"a.png\", \"requestId\": \"\\udc00\"}]}")]
    public void ALoneSurrogateEscapeIsAMalformedMessage(string body)
    {
        var e = Assert.Throws<FormatException>(() => EncodeMessage.Parse(body));
        Assert.Contains("not valid", e.Message);
    }
}
