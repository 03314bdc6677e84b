namespace Dpq.Data;

public enum DatasetSplit { Train, Test }

/// <summary>
/// Fashion-MNIST (Xiao et al. 2017): 60,000 training and 10,000 test images of 28x28 grayscale
/// clothing in 10 classes, as the four IDX files the Debian package dataset-fashion-mnist installs.
/// </summary>
public static class FashionMnist
{
    public const string Name = "fashion-mnist";
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";
    public const int Classes = 10;
    public const int Side = 28;

    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    public static ImageSet Load(DatasetSplit split, string directory = DefaultDirectory)
    {
        string prefix = split == DatasetSplit.Train ? "train" : "t10k";
        return Load(FindFile(directory, $"{prefix}-images-idx3-ubyte"), FindFile(directory, $"{prefix}-labels-idx1-ubyte"));
    }

    /// <summary>Loads an image file and its label file and checks that they belong together.</summary>
    public static ImageSet Load(string imagesPath, string labelsPath)
    {
        var images = IdxReader.ReadFile(imagesPath);
        var labels = IdxReader.ReadFile(labelsPath);
        if (images.Dimensions.Length != 3)
            throw new InvalidDataException($"{imagesPath}: expected 3 dimensions (count x rows x cols), found {images.Dimensions.Length}");
        if (labels.Dimensions.Length != 1)
            throw new InvalidDataException($"{labelsPath}: expected 1 dimension (count), found {labels.Dimensions.Length}");
        int count = images.Dimensions[0];
        if (labels.Dimensions[0] != count)
            throw new InvalidDataException($"{labelsPath}: {labels.Dimensions[0]} labels but {imagesPath} holds {count} images");
        int bad = Array.FindIndex(labels.Data, l => l >= Classes);
        if (bad >= 0) throw new InvalidDataException($"{labelsPath}: label {labels.Data[bad]} at index {bad} is not a class 0..{Classes - 1}");
        return new ImageSet(count, images.Dimensions[1], images.Dimensions[2], images.Data, labels.Data, Classes, ClassNames);
    }

    /// <summary>Whether both splits' files are in <paramref name="directory"/>.</summary>
    public static bool IsInstalled(string directory = DefaultDirectory) =>
        new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }
            .All(stem => File.Exists(Path.Combine(directory, stem + ".gz")) || File.Exists(Path.Combine(directory, stem)));

    private static string FindFile(string directory, string stem)
    {
        foreach (var candidate in new[] { stem + ".gz", stem })
        {
            var path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException(
            $"Fashion-MNIST file {stem}[.gz] not found in {directory} (install the Debian package dataset-fashion-mnist)");
    }
}
