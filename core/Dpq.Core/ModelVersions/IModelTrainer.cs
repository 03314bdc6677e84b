namespace Dpq.ModelVersions;

/// <summary>Trains a model on the labelled images in storage (the worker's is in Dpq.Training; core does not train).</summary>
public interface IModelTrainer
{
    /// <summary>
    /// Writes a model folder, measured on a held-out split, into <paramref name="outputDirectory"/> (empty or absent)
    /// and returns it; <paramref name="seed"/> makes a rerun of the same request train the same way.
    /// </summary>
    Task<string> TrainAsync(string outputDirectory, int seed, IProgress<string> progress, CancellationToken cancellationToken);
}
