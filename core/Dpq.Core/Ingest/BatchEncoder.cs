using Dpq.Copies;
using Dpq.Imaging;
using Dpq.ModelFiles;

namespace Dpq.Ingest;

/// <summary>
/// What <see cref="BatchEncoder.Encode"/> made of a batch: codes (and copy codes, when the model has
/// them) for the images that decoded, the reason for each that never will (<see cref="Rejected"/>), and
/// what the decoder threw for each that failed otherwise (<see cref="Faults"/>: a decoder bug, or memory).
/// </summary>
public sealed record EncodedImages(int Levels, int[] Good, byte[] Codes, string?[] Rejected, byte[]? CopyCodes = null, Exception?[]? Faults = null)
{
    /// <summary>The code of the j-th good image (of image Good[j]).</summary>
    public ReadOnlyMemory<byte> Code(int j) => Codes.AsMemory(j * Levels, Levels);

    /// <summary>The copy code of the j-th good image; null when the model has none.</summary>
    public byte[]? CopyCode(int j) => CopyCodes?.AsSpan(j * CopyCodec.CodeBytes, CopyCodec.CodeBytes).ToArray();
}

/// <summary>
/// The worker's compute for one batch, storage excluded: decodes every image in parallel (limits
/// checked on the header first) into one pixel buffer, runs the good ones through the model in one
/// forward pass and assigns their codes, and computes each one's copy code from the same pixels.
/// An image that fails to decode is reported, not thrown, whatever the decoder threw: one image
/// never fails the others.
/// </summary>
public static class BatchEncoder
{
    /// <param name="withCodes">False skips the forward pass (Codes is then empty): for callers that have the codes and want the copy codes.</param>
    /// <param name="decoder">Turns one image's bytes into pixels; <see cref="SkiaImageDecoder"/> when null.</param>
    public static EncodedImages Encode(IReadOnlyList<ReadOnlyMemory<byte>> images, IImageEncoder encoder, ImageLimits? limits = null,
        CancellationToken cancellationToken = default, bool withCodes = true, IImageDecoder? decoder = null)
    {
        decoder ??= SkiaImageDecoder.Instance;
        var pre = new ImagePreprocessor(encoder.InputWidth, encoder.InputHeight, limits, encoder.InputChannels);
        var pixels = new float[images.Count * pre.PixelCount];
        var rejected = new string?[images.Count];
        var faults = new Exception?[images.Count];
        Parallel.For(0, images.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            try
            {
                decoder.Decode(pre, images[i].Span, pixels.AsSpan(i * pre.PixelCount, pre.PixelCount));
            }
            catch (ImageRejectedException e)
            {
                rejected[i] = e.Reason;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                faults[i] = e;
            }
        });
        var good = Enumerable.Range(0, images.Count).Where(i => rejected[i] is null && faults[i] is null).ToArray();
        // Close the gaps the rejected images left (in place: good[j] >= j), then encode the front.
        for (var j = 0; j < good.Length; j++)
        {
            if (good[j] != j) pixels.AsSpan(good[j] * pre.PixelCount, pre.PixelCount).CopyTo(pixels.AsSpan(j * pre.PixelCount));
        }
        var codes = good.Length == 0 || !withCodes ? [] : encoder.EncodeCodes(pixels.AsSpan(0, good.Length * pre.PixelCount), good.Length);
        return new EncodedImages(encoder.Levels, good, codes, rejected, CopyCodes(encoder.Copies, pixels, good.Length, new InputShape(pre.Channels, pre.Height, pre.Width)),
            faults.Any(f => f is not null) ? faults : null);
    }

    private static byte[]? CopyCodes(CopyCodec? codec, float[] pixels, int count, InputShape shape)
    {
        if (codec is null) return null;
        var codes = new byte[count * CopyCodec.CodeBytes];
        Parallel.For(0, count, i =>
        {
            Span<float> fingerprint = stackalloc float[CopyFingerprint.Dimension];
            CopyFingerprint.Compute(pixels.AsSpan(i * shape.Pixels, shape.Pixels), shape, fingerprint);
            codec.Encode(fingerprint, codes.AsSpan(i * CopyCodec.CodeBytes, CopyCodec.CodeBytes));
        });
        return codes;
    }
}
