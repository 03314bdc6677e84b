using System.Security.Cryptography;
using System.Text.Json;
using Dpq.Formats;
using Dpq.Quantization;

namespace Dpq.ModelFiles;

/// <summary>
/// A trained model folder on disk: model.json and the files it lists, each checked against its
/// SHA-256 before use. Every failure names the file and says how to fix it.
/// </summary>
public static class ModelFolder
{
    /// <summary>Reads model.json of either format; the files it lists are not checked here.</summary>
    public static ModelManifest ReadManifest(string directory)
    {
        var manifestPath = Path.Combine(directory, ModelManifest.FileName);
        if (!File.Exists(manifestPath))
            throw new FileNotFoundException($"no model at {directory}: {ModelManifest.FileName} is missing (run ./dpq train)", manifestPath);
        ModelManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllText(manifestPath), ModelManifest.JsonOptions)
                ?? throw new InvalidDataException("empty");
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or NotSupportedException)
        {
            throw new InvalidDataException($"{manifestPath}: not a readable model manifest ({e.Message})", e);
        }
        // System.Text.Json lets a null through for a required member: check what every reader uses.
        string? missing = manifest.Version is null ? "version"
            : manifest.Input is null ? "input"
            : manifest.Normalisation is null ? "normalisation"
            : manifest.Files?.Weights?.Sha256 is null || manifest.Files.Weights.Path is null ? "files.weights"
            : manifest.Files.Codebooks?.Sha256 is null || manifest.Files.Codebooks?.Path is null ? "files.codebooks"
            : manifest.Files.Onnx is { } o && (o.Path is null || o.Sha256 is null) ? "files.onnx"
            : manifest.Onnx is { } c && (c.Input is null || c.Feature is null || c.Logits is null) ? "onnx"
            : manifest.Files.Copies is { } f && (f.Path is null || f.Sha256 is null) ? "files.copies"
            : (manifest.Files.Copies is null) != (manifest.Copies is null) || manifest.Copies is { CrossTerms: null } or { Calibration: null } or { Fingerprint: null } ? "copies"
            : null;
        if (missing is not null) throw new InvalidDataException($"{manifestPath}: '{missing}' is missing or incomplete");
        if (manifest.Format is not (ModelManifest.CurrentFormat or ModelManifest.FormatWithoutOnnx))
            throw new InvalidDataException($"{manifestPath}: format '{manifest.Format}' is not supported (expected {ModelManifest.CurrentFormat})");
        if (manifest.ClassNames is { } names && (names.Count != manifest.Classes || names.Any(n => Indexing.ClassLabel.Check(n) is not null) || names.Distinct(StringComparer.Ordinal).Count() != names.Count))
            throw new InvalidDataException($"{manifestPath}: classNames must hold {manifest.Classes} distinct class names (it has {names.Count})");
        if (manifest.Format == ModelManifest.CurrentFormat && (manifest.Files!.Onnx is null || manifest.Onnx is null))
            throw new InvalidDataException($"{manifestPath}: format {ModelManifest.CurrentFormat} must list the ONNX file (files.onnx) and its contract (onnx)");
        return manifest;
    }

    /// <summary>The ONNX file's path, checked against model.json; explains how to add the file to an older model.</summary>
    public static string OnnxPath(string directory, ModelManifest manifest)
    {
        if (manifest.Files.Onnx is null || manifest.Onnx is null)
            throw new InvalidDataException($"model at {directory} has no ONNX feature network ({manifest.Format}, trained before serving moved to ONNX Runtime): "
                + $"add it with ./dpq export-onnx --model {directory}");
        return VerifiedPath(directory, manifest.Files.Onnx);
    }

    public static Codebooks ReadCodebooks(string directory, ModelManifest manifest)
    {
        var path = VerifiedPath(directory, manifest.Files.Codebooks);
        var codebooks = CodebookFile.ReadFile(path);
        if (codebooks.M != manifest.M || codebooks.K != manifest.K || codebooks.D != manifest.D)
            throw new InvalidDataException($"{path}: shape {codebooks.M}x{codebooks.K}x{codebooks.D} does not match model.json ({manifest.M}x{manifest.K}x{manifest.D})");
        return codebooks;
    }

    /// <summary>The copy codes, checked against model.json; null when the model has none.</summary>
    public static Copies.CopyCodec? ReadCopyCodec(string directory, ModelManifest manifest)
    {
        if (manifest.Files.Copies is not { } file || manifest.Copies is not { } info) return null;
        var manifestPath = Path.Combine(directory, ModelManifest.FileName);
        if (info.Fingerprint != CopyInfo.FingerprintName)
            throw new InvalidDataException($"{manifestPath}: copy codes of fingerprint '{info.Fingerprint}'; this build computes '{CopyInfo.FingerprintName}'");
        if (info.RerankCandidates < 1)
            throw new InvalidDataException($"{manifestPath}: copies.rerankCandidates must be at least 1 (got {info.RerankCandidates})");
        var path = VerifiedPath(directory, file);
        try
        {
            return new Copies.CopyCodec(CodebookFile.ReadFile(path), info.CrossTerms, info.CopyDistance, info.TypicalCopyDistance, info.DuplicateRatio, info.RerankCandidates);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Adds (or replaces) the copy codes of a model folder: copies.dpqc and its entry in model.json. The version stays.</summary>
    public static ModelManifest AddCopyCodec(string directory, Copies.TrainedCopyCodec trained)
    {
        var manifest = ReadManifest(directory);
        CodebookFile.WriteFile(Path.Combine(directory, CopyInfo.FileName), trained.Codec.Codebooks);
        var updated = manifest with
        {
            Files = manifest.Files with { Copies = Describe(directory, CopyInfo.FileName) },
            Copies = new CopyInfo(CopyInfo.FingerprintName, [.. trained.Codec.CrossTerms], trained.Codec.CopyDistance, trained.Codec.TypicalCopyDistance,
                trained.Codec.DuplicateRatio, trained.Codec.RerankCandidates, trained.Calibration),
        };
        WriteManifest(directory, updated);
        return updated;
    }

    /// <summary>The path of a listed file after checking that it is inside the folder, present and unchanged.</summary>
    public static string VerifiedPath(string directory, ModelFile file)
    {
        if (!IsPlainFileName(file.Path)) throw new InvalidDataException($"model.json names a file outside the folder: '{file.Path}'");
        var path = Path.Combine(directory, file.Path);
        if (!File.Exists(path)) throw new FileNotFoundException($"model at {directory} is incomplete: {file.Path} is missing (run ./dpq train)", path);
        var actual = Describe(directory, file.Path);
        if (!string.Equals(actual.Sha256, file.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path}: content hash {actual.Sha256[..12]}… does not match model.json ({file.Sha256[..Math.Min(12, file.Sha256.Length)]}…): the file was changed or damaged");
        return path;
    }

    /// <summary>A name of a file in the folder itself: not empty, no separator, not "." or "..".</summary>
    public static bool IsPlainFileName(string name) =>
        name.Length > 0 && !name.Contains('/') && !name.Contains('\\') && name is not ("." or "..");

    /// <summary>The file's name, SHA-256 and size, as model.json lists it.</summary>
    public static ModelFile Describe(string directory, string name)
    {
        using var stream = File.OpenRead(Path.Combine(directory, name));
        return new ModelFile(name, Convert.ToHexStringLower(SHA256.HashData(stream)), stream.Length);
    }

    /// <summary>Writes model.json through a temporary file, so a reader never sees half of it.</summary>
    public static void WriteManifest(string directory, ModelManifest manifest)
    {
        var path = Path.Combine(directory, ModelManifest.FileName);
        var staging = path + ".tmp";
        File.WriteAllText(staging, JsonSerializer.Serialize(manifest, ModelManifest.JsonOptions) + "\n");
        File.Move(staging, path, overwrite: true);
    }
}
