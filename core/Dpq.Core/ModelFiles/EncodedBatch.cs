using Dpq.Data;

namespace Dpq.ModelFiles;

/// <summary>
/// Count images encoded: Features is Count x D floats (the continuous query-side feature), Codes is
/// Count x M bytes (one level index per byte, level-major per image; empty when not asked for),
/// Predictions is the classification head's class per image.
/// </summary>
public sealed record EncodedBatch(int Count, int D, int M, float[] Features, byte[] Codes, byte[] Predictions)
{
    /// <summary>One forward pass over count images given as count x C x H x W floats in [0, 1].</summary>
    public delegate EncodedBatch Encoder(ReadOnlySpan<float> pixels, int count, bool withCodes);

    /// <summary>
    /// A whole grayscale image set through <paramref name="encode"/>, <paramref name="batchSize"/>
    /// images per pass, joined into one batch. <paramref name="input"/> is the network's input shape: when
    /// it is not the images' own, each image is saved as PNG and decoded as serving decodes an upload
    /// (resized, gray repeated in each colour channel).
    /// </summary>
    public static EncodedBatch EncodeAll(ImageSet images, InputShape input, int d, int m, bool withCodes, int batchSize, Encoder encode,
        IProgress<int>? progress = null)
    {
        bool native = images.Height == input.Height && images.Width == input.Width && input.Channels == 1;
        var decoder = native ? null : new Imaging.ImagePreprocessor(input.Width, input.Height, channels: input.Channels);
        var features = new float[images.Count * d];
        var codes = new byte[withCodes ? images.Count * m : 0];
        var predictions = new byte[images.Count];
        var pixels = new float[batchSize * input.Pixels];
        for (int start = 0; start < images.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, images.Count - start);
            if (decoder is null)
                images.CopyUnitPixels(start, count, pixels);
            else
                Parallel.For(0, count, i => decoder.Decode(Imaging.ImagePreprocessor.EncodePng(images, start + i), pixels.AsSpan(i * input.Pixels, input.Pixels)));
            var batch = encode(pixels.AsSpan(0, count * input.Pixels), count, withCodes);
            batch.Features.CopyTo(features, start * d);
            if (withCodes) batch.Codes.CopyTo(codes, start * m);
            batch.Predictions.CopyTo(predictions, start);
            progress?.Report(start + count);
        }
        return new EncodedBatch(images.Count, d, m, features, codes, predictions);
    }
}
