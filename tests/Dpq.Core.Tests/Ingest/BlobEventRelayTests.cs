using Dpq.Ingest;

namespace Dpq.Core.Tests.Ingest;

public sealed class BlobEventRelayTests
{
    private static string Event(string type, string subject) =>
        $$"""{"id":"1","topic":"/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z","subject":"{{subject}}","eventType":"{{type}}","eventTime":"2026-12-01T10:00:00Z","data":{"api":"DeleteBlob"},"dataVersion":"","metadataVersion":"1"}""";

    [Fact]
    public void ABlobDeletedEventNamesItsContainerAndBlobAsTextOrBase64()
    {
        var text = Event(BlobEventRelay.BlobDeleted, "/blobServices/default/containers/images/blobs/shoes/a b.png");
        Assert.Equal([("images", "shoes/a b.png")], BlobEventRelay.Parse(text));
        Assert.Equal([("images", "shoes/a b.png")], BlobEventRelay.Parse(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text))));
        Assert.Equal([("imports", "x/1.png"), ("images", "2.png")], BlobEventRelay.Parse(
            $"[{Event(BlobEventRelay.BlobDeleted, "/blobServices/default/containers/imports/blobs/x/1.png")},{Event(BlobEventRelay.BlobDeleted, "/blobServices/default/containers/images/blobs/2.png")}]"));
    }

    [Fact]
    public void OtherEventsAreIgnoredAndWhatIsNotAnEventIsRefused()
    {
        Assert.Empty(BlobEventRelay.Parse(Event("Microsoft.Storage.BlobCreated", "/blobServices/default/containers/images/blobs/1.png"))!);
        Assert.Null(BlobEventRelay.Parse("not an event"));
        Assert.Null(BlobEventRelay.Parse("{\"eventType\": \"Microsoft.Storage.BlobDeleted\"}")); // no subject
        Assert.Null(BlobEventRelay.Parse(Event(BlobEventRelay.BlobDeleted, "/blobServices/default/containers/images/blobs/")));
        Assert.Null(BlobEventRelay.Parse(Event(BlobEventRelay.BlobDeleted, "/somewhere/else")));
        Assert.Null(BlobEventRelay.Parse("{\"eventType\": \"Microsoft.Storage.BlobDeleted\", \"subject\": \"/blobServices/default/containers/images/blobs/\\ud800.png\"}"));
        Assert.Null(BlobEventRelay.Parse("[1, 2]"));
    }
}
