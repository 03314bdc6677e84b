using Dpq.Data;
using Dpq.ModelVersions;
using Dpq.ModelFiles;

namespace Dpq.Training;

/// <summary>
/// How far the ONNX Runtime encode (what serving runs) is from the TorchSharp encode (what training
/// measured) on the same images: the largest absolute feature difference, and how many images get
/// the same code (TorchSharp's quantizer on its features against <see cref="Quantization.Codebooks"/>
/// on ONNX Runtime's features) and the same predicted class.
/// </summary>
public sealed record ParityReport(int Images, double MaxAbsFeatureDifference, double MeanAbsFeatureDifference,
    int CodesEqual, int PredictionsEqual, IReadOnlyList<int> DifferingCodeImages)
{
    public double CodeAgreement => Images == 0 ? 1 : CodesEqual / (double)Images;
}

public static class OnnxParity
{
    /// <summary>Compares both runtimes on every image of <paramref name="images"/>, <paramref name="batchSize"/> at a time.</summary>
    public static ParityReport Measure(TorchModel torchModel, LoadedModel onnxModel, ImageSet images, int batchSize = 500,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        if (torchModel.Version != onnxModel.ModelVersion)
            throw new ArgumentException($"two different models: {torchModel.Version} and {onnxModel.ModelVersion}");
        int d = onnxModel.FeatureDimension, m = onnxModel.Levels;
        double maxDiff = 0, sumDiff = 0;
        int codesEqual = 0, predictionsEqual = 0;
        var differing = new List<int>();
        var pixels = new float[batchSize * images.PixelsPerImage];
        for (int start = 0; start < images.Count; start += batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(batchSize, images.Count - start);
            images.CopyUnitPixels(start, count, pixels);
            var span = pixels.AsSpan(0, count * images.PixelsPerImage);
            var torch = torchModel.Encode(span, count);
            var onnx = onnxModel.Encode(span, count);
            for (int i = 0; i < count * d; i++)
            {
                double diff = Math.Abs(torch.Features[i] - onnx.Features[i]);
                sumDiff += diff;
                if (diff > maxDiff) maxDiff = diff;
            }
            for (int i = 0; i < count; i++)
            {
                if (torch.Codes.AsSpan(i * m, m).SequenceEqual(onnx.Codes.AsSpan(i * m, m))) codesEqual++;
                else differing.Add(start + i);
                if (torch.Predictions[i] == onnx.Predictions[i]) predictionsEqual++;
            }
            progress?.Report(start + count);
        }
        return new ParityReport(images.Count, maxDiff, images.Count == 0 ? 0 : sumDiff / ((double)images.Count * d), codesEqual, predictionsEqual, differing);
    }
}
