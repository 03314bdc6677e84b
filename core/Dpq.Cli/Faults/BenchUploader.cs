using System.Diagnostics;
using Azure.Storage.Blobs.Models;
using Dpq.Indexing;
using Dpq.Ingest;
using Dpq.Storage;

namespace Dpq.Cli.Faults;

/// <summary>One image file to store under a name (an overwrite when the name is stored already).</summary>
public sealed record BenchImage(string Name, byte[] Bytes, string? Label);

/// <summary>
/// Stores images in the images container as a user would (PNG, the class as metadata "label", overwriting what
/// the name held) and hands each to intake as the blob trigger does (<see cref="UploadIntake.HandleBlobAsync"/>).
/// Through the bench's own clients, without faults. With <c>persist</c>, a failed upload or intake is tried
/// again until it succeeds (storage being restarted), so every image counted as uploaded was handed to intake.
/// </summary>
public sealed class BenchUploader(StorageClients storage, UploadIntake intake)
{
    private int _retries;

    /// <summary>Uploads or intake calls that failed and were tried again.</summary>
    public int Retries => Volatile.Read(ref _retries);

    /// <summary>Stores <paramref name="image"/> and hands it to intake; returns the ETag stored.</summary>
    public async Task<string> UploadAsync(BenchImage image, bool persist, CancellationToken cancellationToken)
    {
        var blob = storage.Container(storage.Names.ImagesContainer).GetBlobClient(image.Name);
        var options = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "image/png" },
            Metadata = image.Label is { } l ? new Dictionary<string, string> { ["label"] = ClassLabel.ToMetadata(l) } : null,
        };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var info = await blob.UploadAsync(BinaryData.FromBytes(image.Bytes), options, cancellationToken);
                await intake.HandleBlobAsync(blob, cancellationToken);
                return info.Value.ETag.ToString();
            }
            catch (Exception e) when (persist && TransientFaults.Match(e, cancellationToken) && clock.Elapsed < TimeSpan.FromMinutes(5))
            {
                Interlocked.Increment(ref _retries);
                await Task.Delay(500, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Uploads <paramref name="images"/> in order at about <paramref name="perSecond"/> a second (a few at a
    /// time), reporting each stored name and ETag to <paramref name="onStored"/>.
    /// </summary>
    public async Task UploadPacedAsync(IReadOnlyList<BenchImage> images, double perSecond, bool persist, Action<BenchImage, string> onStored,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var next = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 4), cancellationToken, async (_, ct) =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next) - 1) < images.Count)
            {
                var due = TimeSpan.FromSeconds(i / perSecond) - clock.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due, ct);
                onStored(images[i], await UploadAsync(images[i], persist, ct));
            }
        });
    }
}
