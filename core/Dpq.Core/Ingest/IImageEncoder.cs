namespace Dpq.Ingest;

/// <summary>
/// What the pipeline needs of a trained model: its version, its input size, and codes for a batch
/// of preprocessed images computed in one forward pass.
/// </summary>
public interface IImageEncoder
{
    string ModelVersion { get; }
    int InputWidth { get; }
    int InputHeight { get; }
    /// <summary>1 for gray input, 3 for RGB (planar, channel after channel).</summary>
    int InputChannels => 1;
    /// <summary>M, the number of quantization levels (one level index per level).</summary>
    int Levels { get; }
    /// <summary>K, the codewords per level.</summary>
    int Codewords { get; }

    /// <summary>
    /// <paramref name="pixels"/> holds <paramref name="count"/> images of InputChannels x InputHeight x InputWidth
    /// values in [0, 1]; returns count x Levels level indices, row-major.
    /// </summary>
    byte[] EncodeCodes(ReadOnlySpan<float> pixels, int count);

    /// <summary>The copy codes stored beside each code (see Dpq.Copies.CopyCodec); null when the model has none.</summary>
    Copies.CopyCodec? Copies => null;
}
