using Dpq.Indexing;
using Dpq.Storage;
using Microsoft.Extensions.DependencyInjection;
using System.CommandLine;
using System.Globalization;
using Dpq.Ingest;
using Dpq.ModelVersions;
using Dpq.ModelFiles;

namespace Dpq.Cli;

/// <summary>
/// dpq import DIR: uploads a folder tree of images through the bulk path (the imports container and
/// batched encode requests), shows progress, waits until the worker has indexed or refused each, and
/// prints every refusal with its reason. A second run skips what is stored already. Storage is
/// DpqStorage when set (Azure: its worker indexes), else the local stack, started if none runs.
/// </summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var folder = new Argument<DirectoryInfo>("DIR") { Description = "the folder of images (searched with its subfolders)" };
        folder.AcceptExistingOnly();
        var labels = CliOptions.Text("--labels", "folders: the first subfolder's name is each image's class; none: no classes", "folders|none", defaultValue: "folders");
        labels.AcceptOnlyFromAmong("folders", "none");
        var prefix = CliOptions.Text("--prefix", "put the blob names under this folder (as P/...)", "P");
        var parallel = CliOptions.Int("--parallel", "uploads at a time", 16, 1, 256);
        var timeout = CliOptions.Int("--timeout", "seconds to wait for the worker once the uploads are done", 1800, 10);
        return new Command("import", "upload a folder of images, wait until every one is indexed, list what was refused and why")
            .With(folder, labels, prefix, parallel, timeout)
            .Runs((r, ct) => RunAsync(r.GetRequiredValue(folder).FullName, r.GetValue(labels) == "none" ? FolderLabels.None : FolderLabels.Folders, r.GetValue(prefix), r.GetValue(parallel),
                TimeSpan.FromSeconds(r.GetValue(timeout)), ct));
    }

    private static async Task<int> RunAsync(string folder, FolderLabels labels, string? prefix, int parallel, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ImportPlan plan;
        try
        {
            plan = ImportFolder.Scan(folder, labels, prefix);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        var classes = plan.Files.Select(f => f.Label).OfType<string>().Distinct().Count();
        Console.WriteLine($"dpq import: {plan.Files.Count} images in {folder}"
            + (labels == FolderLabels.Folders ? $" in {classes} classes" : "") + $", {plan.Refused.Count} refused before upload");

        var local = !Storage.IsConfigured;
        if (local && await Scripts.RunAsync("stack.sh", ["start"], cancellationToken) != 0) throw new UsageException("the local stack did not start (see .build/run/*.log)");
        using var services = await Storage.FromEnvironmentOrLocalAsync(cancellationToken);
        var storage = services.GetRequiredService<StorageClients>();
        var model = await services.GetRequiredService<ModelRegistry>().GetActiveAsync(cancellationToken)
            ?? throw new UsageException("no model is active: ./dpq demo trains and publishes the default one, or ./dpq publish --model DIR publishes yours");

        var started = DateTimeOffset.UtcNow;
        var upload = new ProgressBar("uploading", plan.Files.Count);
        var uploaded = await BulkImporter.ImportAsync(storage, ImportFolder.Items(plan), parallel,
            new SynchronousProgress<UploadProgress>(p => upload.Report(p.Done, p.Skipped > 0 ? $"{p.Skipped} already stored" : null)), TimeProvider.System,
            cancellationToken: cancellationToken);
        upload.Report(plan.Files.Count);
        var skipped = plan.Files.Count - uploaded.Count;

        var tracker = new ImportTracker(services.GetRequiredService<IndexStore>(), services.GetRequiredService<FailureLog>(), model.Version, started);
        var indexing = new ProgressBar("indexing ", uploaded.Count);
        var failed = new List<Dpq.Indexing.FailureRecord>();
        IReadOnlyList<UploadedBlob> pending = uploaded;
        int indexed = 0;
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (pending.Count > 0)
        {
            var status = await tracker.CheckAsync(pending, cancellationToken);
            indexed += status.Indexed.Count;
            failed.AddRange(status.Failed);
            pending = status.Pending;
            indexing.Report(indexed + failed.Count, failed.Count > 0 ? $"{failed.Count} refused by the worker" : null);
            if (pending.Count == 0) break;
            if (DateTimeOffset.UtcNow > deadline)
            {
                Console.Error.WriteLine($"\ndpq import: {pending.Count} images are not indexed after {timeout.TotalSeconds:F0} s"
                    + (local ? " (worker log: .build/run/worker.log)" : " (is the worker running?)") + "; they are stored and queued, and are indexed when the worker gets to them");
                return 1;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"dpq import: {indexed} indexed for model {model.Version}, {skipped} already stored, {plan.Refused.Count + failed.Count} refused"));
        foreach (var r in plan.Refused) Console.WriteLine($"  refused {Path.GetRelativePath(folder, r.Path)}: {r.Reason}");
        foreach (var f in failed.OrderBy(f => f.BlobName, StringComparer.Ordinal)) Console.WriteLine($"  refused {f.BlobName}: {f.Reason}");
        return 0;
    }
}
