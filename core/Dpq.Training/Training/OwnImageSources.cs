using Dpq.Data;

namespace Dpq.Training;

/// <summary>The sources one training run on a user's labelled images takes: the training images, the held-out ones and the images the copy codes train on.</summary>
public sealed record OwnImageSources(TrainingSource Train, TrainingSource? HeldOut, Func<ImageSet> CopyImages)
{
    /// <summary>
    /// Leaves out the images that do not decode (each with its reason, for the caller to show), checks that two
    /// classes are left, and holds out <paramref name="holdout"/> of each class (stratified by <paramref name="seed"/>).
    /// </summary>
    public static OwnImageSources From(LabelledImages images, double holdout, int seed, out IReadOnlyList<(string Name, string Reason)> undecodable,
        CancellationToken cancellationToken = default)
    {
        if (holdout is < 0 or >= 0.9) throw new ArgumentException($"the held-out share must be from 0 to 0.9 (got {holdout})");
        images = images.Decodable(out var left, cancellationToken);
        undecodable = left;
        var classes = images.Files.Select(f => f.Class).Distinct().Count();
        if (classes < 2) throw new InvalidDataException($"training needs labelled images of at least two classes; found {classes}");
        var (trainFiles, heldOutFiles) = images.Split(holdout, seed);
        return new OwnImageSources(TrainingSource.FromFiles(trainFiles), heldOutFiles.Count == 0 ? null : TrainingSource.FromFiles(heldOutFiles),
            () => trainFiles.ToGrayImageSet(FashionMnist.Side, cancellationToken));
    }
}
