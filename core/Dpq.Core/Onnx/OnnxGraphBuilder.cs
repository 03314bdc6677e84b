using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Dpq.Onnx;

/// <summary>
/// Builds an ONNX graph (default domain, one opset) from named nodes and float initializers with
/// OnnxSharp's generated protobuf types. Value names are the caller's; every input and output is a
/// float32 tensor whose first dimension is the symbolic "batch".
/// </summary>
public sealed class OnnxGraphBuilder(string graphName)
{
    public const string BatchDimension = "batch";

    private readonly GraphProto _graph = new() { Name = graphName };
    private int _nodes;

    /// <summary>A graph input of shape batch x <paramref name="dims"/>.</summary>
    public string Input(string name, params long[] dims)
    {
        _graph.Input.Add(ValueInfo(name, dims));
        return name;
    }

    /// <summary>Marks <paramref name="name"/> (a node output) as a graph output of shape batch x <paramref name="dims"/>.</summary>
    public void Output(string name, params long[] dims) => _graph.Output.Add(ValueInfo(name, dims));

    /// <summary>A constant float tensor stored in the file (little-endian raw data).</summary>
    public string Initializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        long count = 1;
        foreach (var d in dims) count *= d;
        if (count != values.Length) throw new ArgumentException($"initializer {name}: {values.Length} values for shape [{string.Join(", ", dims)}]", nameof(values));
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = BitConverter.IsLittleEndian
            ? ByteString.CopyFrom(MemoryMarshal.AsBytes(values))
            : throw new PlatformNotSupportedException("ONNX raw data is little-endian");
        _graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Adds one node; returns its (single) output's name, <paramref name="output"/> or a generated one.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, string? output = null, params AttributeProto[] attributes)
    {
        var name = $"{opType.ToLowerInvariant()}_{_nodes++}";
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output ?? name + "_out");
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return node.Output[0];
    }

    /// <summary>
    /// Copies another graph's nodes and initializers in, every name under <paramref name="prefix"/>, its
    /// inputs wired to the values <paramref name="inputs"/> maps them to; returns its outputs' new names.
    /// </summary>
    public IReadOnlyList<string> Embed(ModelProto model, string prefix, IReadOnlyDictionary<string, string> inputs)
    {
        var graph = model.Graph;
        foreach (var input in graph.Input)
            if (!inputs.ContainsKey(input.Name) && !graph.Initializer.Any(t => t.Name == input.Name))
                throw new ArgumentException($"graph input '{input.Name}' of {graph.Name} is not wired", nameof(inputs));
        string Rename(string name) => name.Length == 0 ? name : inputs.TryGetValue(name, out var wired) ? wired : prefix + name;
        foreach (var tensor in graph.Initializer)
        {
            var copy = tensor.Clone();
            copy.Name = prefix + tensor.Name;
            _graph.Initializer.Add(copy);
        }
        foreach (var node in graph.Node)
        {
            var copy = node.Clone();
            copy.Name = prefix + (node.Name.Length > 0 ? node.Name : $"node{_nodes++}");
            copy.Input.Clear();
            copy.Input.AddRange(node.Input.Select(Rename));
            copy.Output.Clear();
            copy.Output.AddRange(node.Output.Select(Rename));
            _graph.Node.Add(copy);
        }
        return [.. graph.Output.Select(o => Rename(o.Name))];
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>The model: IR version 8 (the one opset 17 came with), one opset import of the default domain.</summary>
    public ModelProto Build(int opset, string producer, string producerVersion)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = producer,
            ProducerVersion = producerVersion,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }

    private static ValueInfoProto ValueInfo(string name, long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDimension });
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
