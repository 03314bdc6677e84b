using Dpq.Data;
using Dpq.ModelFiles;

namespace Dpq.Training;

/// <summary>
/// What a DPQ network trains on: images (pixels in [0, 1], which batches may shift and flip) or fixed
/// features a frozen backbone computed for each image (a pretrained photo backbone: only the DPQ layers train).
/// </summary>
public sealed class TrainingInputs
{
    private readonly float[]? _values;
    private readonly bool _pixels;

    private TrainingInputs(InputShape shape, byte[] labels, int classes, IReadOnlyList<string> classNames, ImageSet? images, float[]? values, bool pixels)
    {
        (Shape, Labels, Classes, ClassNames, Images, _values, _pixels) = (shape, labels, classes, classNames, images, values, pixels);
    }

    public static TrainingInputs FromImages(ImageSet images) =>
        new(new InputShape(1, images.Height, images.Width), images.Labels, images.Classes, images.ClassNames, images, null, pixels: true);

    /// <summary>Decoded pixels in [0, 1], Count x <paramref name="shape"/> values (colour images: R, G and B planes), one label each.</summary>
    public static TrainingInputs FromPixels(float[] pixels, InputShape shape, byte[] labels, int classes, IReadOnlyList<string> classNames)
    {
        if (pixels.LongLength != (long)labels.Length * shape.Pixels) throw new ArgumentException($"{pixels.Length} values for {labels.Length} images of {shape}", nameof(pixels));
        foreach (var l in labels) if (l >= classes) throw new ArgumentException($"label {l} is out of range for {classes} classes", nameof(labels));
        return new(shape, labels, classes, classNames, null, pixels, pixels: true);
    }

    /// <summary>Count x <paramref name="dimension"/> backbone features, one label each.</summary>
    public static TrainingInputs FromFeatures(float[] features, int dimension, byte[] labels, int classes, IReadOnlyList<string> classNames)
    {
        if (features.Length != labels.Length * dimension) throw new ArgumentException($"{features.Length} values for {labels.Length} features of {dimension}", nameof(features));
        foreach (var l in labels) if (l >= classes) throw new ArgumentException($"label {l} is out of range for {classes} classes", nameof(labels));
        return new(new InputShape(dimension, 1, 1), labels, classes, classNames, null, features, pixels: false);
    }

    /// <summary>The network's input per example: C x H x W (a feature of D values is D x 1 x 1).</summary>
    public InputShape Shape { get; }
    public int Count => Labels.Length;
    public byte[] Labels { get; }
    public int Classes { get; }
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The images, when these are images; null for features.</summary>
    public ImageSet? Images { get; }

    /// <summary>Writes example <paramref name="index"/>'s input (<see cref="Shape"/>.Pixels values) to <paramref name="destination"/>.</summary>
    public void Copy(int index, Span<float> destination)
    {
        int size = Shape.Pixels;
        if (_values is not null)
        {
            _values.AsSpan(index * size, size).CopyTo(destination);
            return;
        }
        var source = Images!.Pixels.AsSpan(index * size, size);
        for (int p = 0; p < size; p++) destination[p] = source[p] * (1f / 255f);
    }

    /// <summary>Mean and standard deviation the encoder normalises with: of all pixels for images; 0 and 1 (none) for features.</summary>
    public (float Mean, float Std) Normalisation()
    {
        if (!_pixels) return (0f, 1f);
        double sum = 0, sumSquares = 0;
        long count = 0;
        if (Images is not null)
        {
            foreach (var p in Images.Pixels)
            {
                double v = p / 255.0;
                sum += v;
                sumSquares += v * v;
            }
            count = Images.Pixels.Length;
        }
        else
        {
            foreach (var v in _values!)
            {
                sum += v;
                sumSquares += (double)v * v;
            }
            count = _values.Length;
        }
        double n = Math.Max(1, count), mean = sum / n;
        return ((float)mean, (float)Math.Sqrt(Math.Max(1e-12, sumSquares / n - mean * mean)));
    }

    /// <summary>Every example through <paramref name="encode"/>, <paramref name="batchSize"/> per pass, joined into one batch.</summary>
    public EncodedBatch EncodeAll(int d, int m, bool withCodes, int batchSize, EncodedBatch.Encoder encode)
    {
        var features = new float[Count * d];
        var codes = new byte[withCodes ? Count * m : 0];
        var predictions = new byte[Count];
        int size = Shape.Pixels;
        var inputs = new float[batchSize * size];
        for (int start = 0; start < Count; start += batchSize)
        {
            int count = Math.Min(batchSize, Count - start);
            for (int i = 0; i < count; i++) Copy(start + i, inputs.AsSpan(i * size, size));
            var batch = encode(inputs.AsSpan(0, count * size), count, withCodes);
            batch.Features.CopyTo(features, start * d);
            if (withCodes) batch.Codes.CopyTo(codes, start * m);
            batch.Predictions.CopyTo(predictions, start);
        }
        return new EncodedBatch(Count, d, m, features, codes, predictions);
    }
}
