using System.CommandLine;
using Dpq.Copies;
using Dpq.Data;
using Dpq.ModelFiles;
using Dpq.ModelVersions;

namespace Dpq.Cli;

/// <summary>
/// dpq copy-codes --model DIR [--fashion-mnist DIR] [--seed S]: trains the copy codes (Dpq.Copies) on the
/// model's training images and adds them to the folder (copies.dpqc and model.json's "copies"); the
/// model's version does not change. Training runs it itself; this adds them to models trained before.
/// A model that has them keeps them (their codes are in its index), unless --replace.
/// </summary>
public static class CopyCodesCommand
{
    public static Command Create()
    {
        var model = CliOptions.Text("--model", "the model folder", "DIR", required: true);
        var data = CliOptions.Text("--fashion-mnist", "folder of the Fashion-MNIST files", "DIR", defaultValue: FashionMnist.DefaultDirectory);
        var seed = CliOptions.Int("--seed", "k-means seed", 1, 0);
        var replace = CliOptions.Flag("--replace", "replace copy codes the model already has (its indexed codes go stale)");
        return new Command("copy-codes", "add the copy codes (copies of a query rank first) to a model trained before training wrote them")
            .With(model, data, seed, replace)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(model), r.GetRequiredValue(data), r.GetValue(seed), r.GetValue(replace), ct));
    }

    private static Task<int> RunAsync(string directory, string dataDirectory, int seed, bool replace, CancellationToken cancellationToken)
    {
        ModelManifest manifest;
        try
        {
            manifest = ModelFolder.ReadManifest(directory);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            throw new UsageException(e.Message);
        }
        if (manifest.Copies is not null && !replace)
            throw new UsageException($"model {manifest.Version} at {directory} already has copy codes; images indexed with it carry codes of these, "
                + "so new ones would not match them (a published version also refuses a changed copies.dpqc). --replace writes new ones anyway");
        var train = FashionMnist.Load(DatasetSplit.Train, dataDirectory);
        Add(directory, manifest.Input, train, seed, cancellationToken);
        LoadedModel.Verify(directory);
        return Task.FromResult(0);
    }

    /// <summary>Trains the copy codes on <paramref name="train"/> and writes them into the model folder.</summary>
    internal static void Add(string directory, InputShape input, ImageSet train, int seed, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var trained = CopyCodecTrainer.Train(train, input, seed, new ConsoleLog(), cancellationToken);
        var manifest = ModelFolder.AddCopyCodec(directory, trained);
        Console.WriteLine($"dpq copy-codes: wrote {Path.Combine(directory, CopyInfo.FileName)} for {manifest.Version} "
            + $"(copy distance {trained.Codec.CopyDistance:G4}, {trained.Calibration.CopiesWithin:P2} of sampled copies within it, "
            + $"{trained.Calibration.NeighboursWithin:P2} of sampled images have another image within it; {clock.Elapsed.TotalSeconds:F0} s)");
    }

    private sealed class ConsoleLog : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine("  " + value);
    }
}
