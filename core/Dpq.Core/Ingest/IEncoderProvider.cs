namespace Dpq.Ingest;

/// <summary>Supplies the encoder of the currently active model, or null while there is none.</summary>
public interface IEncoderProvider
{
    Task<IImageEncoder?> GetEncoderAsync(CancellationToken cancellationToken = default);
}
