using System.Buffers.Binary;
using System.IO.Compression;
using Dpq.Data;

namespace Dpq.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static byte[] Idx(byte type, int[] dims, byte[] data, int extra = 0)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length + extra];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private string Write(string name, byte[] bytes, bool gzip)
    {
        var path = Path.Combine(_dir, name);
        using var file = File.Create(path);
        if (gzip)
        {
            using var z = new GZipStream(file, CompressionLevel.Fastest);
            z.Write(bytes);
        }
        else
        {
            file.Write(bytes);
        }
        return path;
    }

    private static byte[] Pixels(int count, int rows, int cols) =>
        [.. Enumerable.Range(0, count * rows * cols).Select(i => (byte)(i * 7 % 256))];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReadsDimensionsAndDataPlainOrGzipped(bool gzip)
    {
        var data = Pixels(3, 4, 5);
        var path = Write("images.idx", Idx(0x08, [3, 4, 5], data), gzip);

        var array = IdxReader.ReadFile(path);

        Assert.Equal([3, 4, 5], array.Dimensions);
        Assert.Equal(data, array.Data);
    }

    [Fact]
    public void LoadsMatchingImagesAndLabelsAsAnImageSet()
    {
        var images = Write("i.gz", Idx(0x08, [3, 4, 5], Pixels(3, 4, 5)), gzip: true);
        var labels = Write("l.gz", Idx(0x08, [3], [9, 0, 4]), gzip: true);

        var set = FashionMnist.Load(images, labels);

        Assert.Equal((3, 4, 5), (set.Count, set.Height, set.Width));
        Assert.Equal(new byte[] { 9, 0, 4 }, set.Labels);
        var unit = new float[20];
        set.CopyUnitPixels(1, 1, unit);
        Assert.Equal(set.Pixels[20] / 255f, unit[0]);
    }

    [Fact]
    public void RejectsABadMagic()
    {
        var bytes = Idx(0x08, [2], [1, 2]);
        bytes[0] = 0x12;
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadFile(Write("bad", bytes, false)));
        Assert.Contains("not an IDX file", e.Message);
    }

    [Fact]
    public void RejectsAnUnsupportedElementType()
    {
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadFile(Write("f32", Idx(0x0D, [1], [0, 0, 0, 0]), false)));
        Assert.Contains("0x0d", e.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void RejectsAPayloadThatIsShortOrLong(int difference)
    {
        var data = Pixels(2, 3, 3);
        var bytes = difference < 0 ? Idx(0x08, [2, 3, 3], data)[..^1] : Idx(0x08, [2, 3, 3], data, extra: 1);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadFile(Write("short", bytes, gzip: true)));
        Assert.Contains(difference < 0 ? "truncated" : "trailing", e.Message);
    }

    [Fact]
    public void RejectsAZeroDimension()
    {
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadFile(Write("zero", Idx(0x08, [0, 4], []), false)));
        Assert.Contains("must be positive", e.Message);
    }

    [Fact]
    public void RejectsLabelsThatDoNotMatchTheImages()
    {
        var images = Write("i", Idx(0x08, [3, 2, 2], Pixels(3, 2, 2)), false);
        var tooFew = Write("l2", Idx(0x08, [2], [1, 2]), false);
        var outOfRange = Write("l3", Idx(0x08, [3], [1, 2, 10]), false);

        Assert.Contains("2 labels", Assert.Throws<InvalidDataException>(() => FashionMnist.Load(images, tooFew)).Message);
        Assert.Contains("label 10", Assert.Throws<InvalidDataException>(() => FashionMnist.Load(images, outOfRange)).Message);
    }

    [Fact]
    public void NamesTheMissingFile()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(DatasetSplit.Train, _dir));
        Assert.Contains("train-images-idx3-ubyte", e.Message);
    }

    [Fact]
    public void IsInstalledOnlyWithBothSplitsImagesAndLabels()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "installed")).FullName;
        string[] stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"];
        foreach (var stem in stems[..^1]) File.WriteAllBytes(Path.Combine(dir, stem), [0]);
        Assert.False(FashionMnist.IsInstalled(dir));
        File.WriteAllBytes(Path.Combine(dir, stems[^1]), [0]); // compressed or not, either counts
        Assert.True(FashionMnist.IsInstalled(dir));
    }
}
