using System.Buffers.Binary;
using Dpq.Imaging;
using Dpq.Ingest;

namespace Dpq.Tests.Ingest;

public sealed class ImportFolderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly byte[] Png = ImagePreprocessor.EncodePng(new byte[28 * 28], 28, 28);

    private void Write(string relative, byte[] bytes)
    {
        var path = _dir[relative];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void ClassFoldersNameTheClassAndTheBlobNameIsThePrefixAndThePathBelowTheRoot()
    {
        Write("Sneaker/a.png", Png);
        Write("Sneaker/more/b.PNG", Png);
        Write("Ankle boot/c.png", Png);
        Write("Écharpe/d.png", Png);
        var plan = ImportFolder.Scan(_dir.Path, FolderLabels.Folders, prefix: "shop/");
        Assert.Empty(plan.Refused);
        Assert.Equal(["shop/Ankle boot/c.png", "shop/Sneaker/a.png", "shop/Sneaker/more/b.PNG", "shop/Écharpe/d.png"], plan.Files.Select(f => f.Name));
        Assert.Equal(["Ankle boot", "Sneaker", "Sneaker", "Écharpe"], plan.Files.Select(f => f.Label));
        Assert.All(plan.Files, f => Assert.Equal("image/png", f.ContentType));

        var unlabelled = ImportFolder.Scan(_dir.Path, FolderLabels.None);
        Assert.All(unlabelled.Files, f => Assert.Null(f.Label));
        Assert.Equal("Ankle boot/c.png", unlabelled.Files[0].Name);
    }

    [Fact]
    public void WhatIntakeOrTheWorkerWouldRefuseIsRefusedWithTheReasonAndHiddenFilesAreLeftOut()
    {
        Write("bags/good.png", Png);
        Write("loose.png", Png); // no class folder
        Write("bag,shoe/x.png", Png); // a comma is not allowed in a class name
        Write("bags/notes.txt", "hello"u8.ToArray());
        Write("bags/empty.png", []);
        Write("bags/text.png", "not an image at all"u8.ToArray());
        var huge = (byte[])Png.Clone();
        BinaryPrimitives.WriteInt32BigEndian(huge.AsSpan(16), 40000);
        BinaryPrimitives.WriteInt32BigEndian(huge.AsSpan(20), 40000);
        Write("bags/huge.png", huge);
        Write("bags/trailing. /x.png", Png);
        Write(".git/config.png", Png);
        Write("bags/.DS_Store", [1, 2, 3]);

        var plan = ImportFolder.Scan(_dir.Path, FolderLabels.Folders);
        Assert.Equal(["bags/good.png"], plan.Files.Select(f => f.Name));
        var reasons = plan.Refused.ToDictionary(r => Path.GetRelativePath(_dir.Path, r.Path).Replace('\\', '/'), r => r.Reason);
        Assert.Equal(7, reasons.Count);
        Assert.Contains("not in a class folder", reasons["loose.png"]);
        Assert.Contains("its folder is not a class name", reasons["bag,shoe/x.png"]);
        Assert.Contains("not an accepted image extension", reasons["bags/notes.txt"]);
        Assert.Contains("empty", reasons["bags/empty.png"]);
        Assert.Contains("unrecognised or truncated header", reasons["bags/text.png"]);
        Assert.Contains("40000x40000", reasons["bags/huge.png"]);
        Assert.Contains("ends with a dot or a space", reasons["bags/trailing. /x.png"]);
    }

    [Fact]
    public void AMissingFolderOrABadPrefixIsAnError()
    {
        Assert.Throws<DirectoryNotFoundException>(() => ImportFolder.Scan(_dir["nope"], FolderLabels.None));
        Assert.Throws<ArgumentException>(() => ImportFolder.Scan(_dir.Path, FolderLabels.None, prefix: "a/../b"));
    }
}
