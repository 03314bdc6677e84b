namespace Dpq.Ingest;

/// <summary>Supplies the encoders of the model versions that take writes: the active one first, then any being built; empty while there is none.</summary>
public interface IEncoderProvider
{
    Task<IReadOnlyList<IImageEncoder>> GetEncodersAsync(CancellationToken cancellationToken = default);
}
