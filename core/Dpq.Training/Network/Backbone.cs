using Dpq.ModelFiles;
using TorchSharp;
using static TorchSharp.torch;

namespace Dpq.Training.Network;

/// <summary>
/// The swappable image network in front of the feature layer: maps normalised images
/// (N x C x H x W) to a hidden vector (N x <see cref="OutputSize"/>) that both the feature layer
/// and the classification head read. Implementations are registered by name in
/// <see cref="Backbones"/>, and model.json records the name.
/// </summary>
public abstract class Backbone : nn.Module<Tensor, Tensor>
{
    protected Backbone(string name) : base(name)
    {
    }

    public abstract int OutputSize { get; }
}

/// <summary>
/// Backbones by name. Built in: <see cref="SmallCnnBackbone.Name"/>, trained from scratch (28x28 grayscale),
/// and "resnet18", the frozen ImageNet ResNet18 whose features train <see cref="PretrainedFeaturesBackbone"/>.
/// Others are added with <see cref="Register"/> before a model that names them is trained or loaded.
/// </summary>
public static class Backbones
{
    private static readonly Lock s_gate = new();
    private static readonly Dictionary<string, Func<InputShape, Backbone>> s_factories = new(StringComparer.Ordinal)
    {
        [SmallCnnBackbone.Name] = input => new SmallCnnBackbone(input),
        [Dpq.Onnx.ResNet18Graph.Name] = input => new PretrainedFeaturesBackbone(Dpq.Onnx.ResNet18Graph.Name, input),
    };

    /// <summary>
    /// The input of the network that trains for backbone <paramref name="name"/>, given the model's image input:
    /// the image itself, or for a frozen pretrained backbone its features (D x 1 x 1).
    /// </summary>
    public static InputShape TrainedInput(string name, InputShape imageInput) =>
        name == Dpq.Onnx.ResNet18Graph.Name ? new InputShape(Dpq.Onnx.ResNet18Graph.Features, 1, 1) : imageInput;

    /// <summary>The model's image input for backbone <paramref name="name"/> whose trained network takes <paramref name="trainedInput"/>.</summary>
    public static InputShape ImageInput(string name, InputShape trainedInput) =>
        name == Dpq.Onnx.ResNet18Graph.Name ? Dpq.Onnx.ResNet18Graph.Input : trainedInput;

    public static IReadOnlyList<string> Names
    {
        get
        {
            lock (s_gate) return [.. s_factories.Keys.Order(StringComparer.Ordinal)];
        }
    }

    public static void Register(string name, Func<InputShape, Backbone> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (s_gate) s_factories[name] = factory;
    }

    public static Backbone Create(string name, InputShape input)
    {
        Func<InputShape, Backbone>? factory;
        lock (s_gate) s_factories.TryGetValue(name, out factory);
        if (factory is null)
            throw new ArgumentException($"unknown backbone '{name}' (registered: {string.Join(", ", Names)})", nameof(name));
        return factory(input);
    }
}
