using Dpq.Model;
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
/// Backbones by name. Built in: <see cref="SmallCnnBackbone.Name"/> for 28x28 grayscale. A photo
/// backbone (a ResNet with user-supplied pretrained weights, say) is added with <see cref="Register"/>
/// before a model that names it is trained or loaded.
/// </summary>
public static class Backbones
{
    private static readonly Lock s_gate = new();
    private static readonly Dictionary<string, Func<InputShape, Backbone>> s_factories = new(StringComparer.Ordinal)
    {
        [SmallCnnBackbone.Name] = input => new SmallCnnBackbone(input),
    };

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
