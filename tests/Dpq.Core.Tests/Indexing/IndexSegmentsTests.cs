using Dpq.Formats;
using Dpq.Indexing;
using static Dpq.Tests.Formats.SegmentFiles;

namespace Dpq.Tests.Indexing;

/// <summary>Segments read oldest first: an id's last event decides it, an item or a removal.</summary>
public sealed class IndexSegmentsTests
{
    private static readonly CodeFormat Format = new(256, 2);

    private static IndexedImage Image(string name, byte code, string? label = "bag") =>
        new(ImageId.FromBlobName(name), name, label, [code, code], null);

    private static ShardSegment Delta(IndexedImage[] images, params string[] removed) => IndexSegments.FromImages(Format, "v", images, removed);

    /// <summary>Each item's id and first code byte, in order.</summary>
    private static (string Id, byte Code)[] Items(ShardSegment segment)
    {
        var code = new byte[Format.BytesPerCode];
        return [.. Enumerable.Range(0, segment.Count).Select(i =>
        {
            segment.CopyCode(i, code);
            return (segment.Ids[i], code[0]);
        })];
    }

    /// <summary>a, b, c; then a and b removed, with z that nothing holds; then b again.</summary>
    private static ShardSegment[] RemoveAndRevive() =>
    [
        Delta([Image("a", 1), Image("b", 2), Image("c", 3)]),
        Delta([], "a", "b", "z"),
        Delta([Image("b", 9, "coat")]),
    ];

    [Fact]
    public void ARemovalHidesEarlierItemsAndALaterItemBringsTheIdBack()
    {
        foreach (var keepRemovals in new[] { true, false })
        {
            var merged = IndexSegments.Merge(Format, "v", RemoveAndRevive(), keepRemovals);
            Assert.Equal([("b", 9), ("c", 3)], Items(merged));
            Assert.Equal(["coat", "bag"], Enumerable.Range(0, merged.Count).Select(merged.LabelOf));
        }
    }

    [Fact]
    public void KeptRemovalsAreTheIdsWhoseLastEventIsARemovalHeldOrNot()
    {
        Assert.Equal(["a", "z"], All(IndexSegments.Merge(Format, "v", RemoveAndRevive(), keepRemovals: true).RemovedIds));
        Assert.Empty(All(IndexSegments.Merge(Format, "v", RemoveAndRevive(), keepRemovals: false).RemovedIds));
        // Without the flag, removals are kept: the query side's tail sits above the sealed segments.
        var tail = IndexSegments.Merge(Format, "v", RemoveAndRevive());
        Assert.Equal(["a", "z"], All(tail.RemovedIds));
        Assert.Equal([("b", 9), ("c", 3)], Items(tail));
        // A merged tail read above older layers hides what the deltas did.
        var again = IndexSegments.Merge(Format, "v", [Delta([Image("a", 5), Image("z", 6)]), tail], keepRemovals: false);
        Assert.Equal([("b", 9), ("c", 3)], Items(again));
    }

    [Fact]
    public void AnItemAfterARemovalInTheSameMergeIsAnItemOnly()
    {
        var merged = IndexSegments.Merge(Format, "v", [Delta([], "a"), Delta([Image("a", 4)])], keepRemovals: true);
        Assert.Equal([("a", 4)], Items(merged));
        Assert.Empty(All(merged.RemovedIds));
    }

    [Fact]
    public void CompactionMergesOneShardsSealedItemsAndItsDeltaEventsInOrderWithoutRemovals()
    {
        var sealedSegment = IndexSegments.Merge(Format, "v", [Delta([Image("s0/a", 1), Image("s0/b", 2), Image("s0/c", 3)])], keepRemovals: false);
        ShardSegment[] deltas = [Delta([Image("s0/d", 4), Image("s1/x", 7)], "s0/b", "s1/y"), Delta([Image("s0/b", 8)], "s0/c", "s0/d")];
        var shardEvents = deltas.SelectMany(IndexSegments.Events).Where(e => e.Id.StartsWith("s0/", StringComparison.Ordinal));
        var merged = IndexSegments.MergeItems(Format, "v", IndexSegments.Events(sealedSegment).Concat(shardEvents), keepRemovals: false);
        Assert.Equal([("s0/a", 1), ("s0/b", 8)], Items(merged));
        Assert.Empty(All(merged.RemovedIds));

        var kept = IndexSegments.MergeItems(Format, "v", IndexSegments.Events(sealedSegment).Concat(shardEvents), keepRemovals: true);
        Assert.Equal(["s0/c", "s0/d"], All(kept.RemovedIds));
    }

    [Fact]
    public void EventsAreASegmentsRemovalsThenItsItems()
    {
        var delta = Delta([Image("b", 2), Image("a", 1)], "d", "c");
        var events = IndexSegments.Events(delta).ToList();
        Assert.Equal(["c", "d", "a", "b"], events.Select(e => e.Id));
        Assert.Equal([false, false, true, true], events.Select(e => e.Item is not null));
        Assert.Equal(1, events[3].Item!.Value.Item);
        Assert.Same(delta, events[3].Item!.Value.Segment);
    }

    [Fact]
    public void FromImagesRemovesTheGivenIdsAndRefusesAnIdAlsoAmongTheImages()
    {
        var delta = ShardSegmentReader.Read(ShardSegmentWriter.ToArray(Delta([Image("b", 2)], "c", "a", "c")));
        Assert.Equal([("b", 2)], Items(delta));
        Assert.Equal(["a", "c"], All(delta.RemovedIds));
        Assert.Empty(All(IndexSegments.FromImages(Format, "v", [Image("b", 2)]).RemovedIds));

        var both = Assert.Throws<ArgumentException>(() => Delta([Image("a", 1), Image("b", 2)], "b"));
        Assert.Contains("'b' is removed in this segment", both.Message);
    }

    [Fact]
    public void SegmentsOfAnotherModelAreRefusedEvenWhenTheyOnlyRemove()
    {
        var other = IndexSegments.FromImages(Format, "other", [], ["a"]);
        Assert.Throws<InvalidDataException>(() => IndexSegments.Merge(Format, "v", [Delta([Image("a", 1)]), other]));
    }
}
