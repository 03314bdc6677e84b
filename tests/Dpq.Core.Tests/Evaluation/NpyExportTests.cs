using System.Buffers.Binary;
using System.Text;
using Dpq.Formats;

namespace Dpq.Tests.Evaluation;

public sealed class NpyExportTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static (string Header, byte[] Data) Parse(byte[] file)
    {
        Assert.Equal(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }, file[..8]);
        int length = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8));
        Assert.Equal(0, (10 + length) % 64);
        var header = Encoding.ASCII.GetString(file, 10, length);
        Assert.EndsWith("\n", header);
        return (header.TrimEnd(), file[(10 + length)..]);
    }

    [Fact]
    public void WritesFloat32MatricesAsVersion1()
    {
        var path = Path.Combine(_dir, "f.npy");
        NpyWriter.Write(path, [1.5f, -2f, 3f, 4f, 5f, 6f], 2, 3);

        var (header, data) = Parse(File.ReadAllBytes(path));

        Assert.Equal("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header);
        Assert.Equal(24, data.Length);
        Assert.Equal(-2f, BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(4)));
    }

    [Fact]
    public void WritesByteVectorsWithAOneTupleShape()
    {
        var path = Path.Combine(_dir, "b.npy");
        NpyWriter.Write(path, new byte[] { 7, 8, 9 }, 3);

        var (header, data) = Parse(File.ReadAllBytes(path));

        Assert.Equal("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", header);
        Assert.Equal(new byte[] { 7, 8, 9 }, data);
    }

    [Fact]
    public void RejectsAShapeThatDoesNotHoldTheData()
    {
        Assert.Throws<ArgumentException>(() => NpyWriter.Write(Path.Combine(_dir, "x.npy"), new byte[5], 2, 3));
    }
}
