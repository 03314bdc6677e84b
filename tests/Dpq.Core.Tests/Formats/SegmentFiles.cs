using System.Buffers.Binary;
using System.IO.Hashing;
using Dpq.Formats;

namespace Dpq.Tests.Formats;

/// <summary>Small segments and byte-level edits of their files for the format tests.</summary>
internal static class SegmentFiles
{
    /// <param name="removed">How many ids the segment removes: <c>gone/000000.png</c> and on.</param>
    public static ShardSegmentBuilder SmallBuilder(CodeFormat format, int count, int seed = 5, int removed = 0)
    {
        var rng = new Random(seed);
        var builder = new ShardSegmentBuilder(format, "model-7");
        for (int i = 0; i < removed; i++) builder.Remove($"gone/{i:D6}.png");
        var code = new byte[format.BytesPerCode];
        var levels = new int[format.Levels];
        foreach (int i in Enumerable.Range(0, count).OrderBy(_ => rng.Next()))
        {
            for (int l = 0; l < levels.Length; l++) levels[l] = rng.Next(format.Codewords);
            format.Pack(levels, code);
            builder.Add($"images/{i:D6}.png", code, Label(i));
        }
        return builder;
    }

    /// <summary>The class of item <paramref name="i"/> of <see cref="SmallBuilder"/>: one of eleven names, every seventh none.</summary>
    public static string? Label(int i) => i % 7 == 6 ? null : $"class {i % 11}";

    /// <summary>Every id of <paramref name="ids"/>, in order.</summary>
    public static string[] All(FrontCodedIds ids) => [.. Enumerable.Range(0, ids.Count).Select(i => ids[i])];

    /// <summary>Recomputes the trailing checksum, so a test can reach the checks behind it.</summary>
    public static void Reseal(byte[] file)
    {
        int body = file.Length - ShardSegmentFormat.ChecksumLength;
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(body), XxHash64.HashToUInt64(file.AsSpan(0, body)));
    }

    public static InvalidDataException ReadFails(byte[] file) =>
        Assert.Throws<InvalidDataException>(() => ShardSegmentReader.Read(file));
}

/// <summary>A stream that cannot seek, as a network or blob download stream.</summary>
internal sealed class ForwardOnlyStream(byte[] data) : MemoryStream(data, writable: false)
{
    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }
}
