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
    public void AFullMessageStaysWithinTheQueueLimitAfterBase64()
    {
        var longName = new string('n', 200);
        var requests = Enumerable.Range(0, EncodeMessage.MaxRequests)
            .Select(i => EncodeRequest.For($"imports/{longName}-{i}.png", "\"0x8DD0123456789AB\"", 1000, DateTimeOffset.UtcNow)).ToList();
        var body = EncodeMessage.Pack(requests);
        Assert.True(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(body)).Length <= 64 * 1024,
            $"{EncodeMessage.MaxRequests} requests with 200-character names take {body.Length} bytes");
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
}
