using Dpq.Onnx;

namespace Dpq.Tests.Onnx;

public sealed class OnnxGraphTests
{
    [Fact]
    public void FoldsBatchNormIntoTheConvolutionByTheFormula()
    {
        // Two output channels of one 3x3 input each; s = gamma / sqrt(var + eps) is 1 and 1.5.
        var weight = Enumerable.Range(1, 18).Select(i => (float)i).ToArray(); // 2 outputs x 1 input x 3 x 3
        var norm = new BatchNormWeights(Gamma: [2f, 3f], Beta: [0.5f, -1f], RunningMean: [1f, 2f], RunningVar: [3f, 3f], Epsilon: 1);
        var (folded, bias) = new ConvStageWeights(1, 2, weight, norm).FoldBatchNorm();

        double s0 = 2 / Math.Sqrt(3 + 1), s1 = 3 / Math.Sqrt(3 + 1);
        for (int i = 0; i < 9; i++)
        {
            Assert.Equal((float)(weight[i] * s0), folded[i]);
            Assert.Equal((float)(weight[9 + i] * s1), folded[9 + i]);
        }
        Assert.Equal((float)(0.5 - 1 * s0), bias[0]);
        Assert.Equal((float)(-1 - 2 * s1), bias[1]);
    }

    [Fact]
    public void BuildsAnOpset17GraphWithASymbolicBatch()
    {
        using var temp = new TempDirectory();
        TestModelFolder.Write(temp.Path);
        var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(temp[Dpq.ModelFiles.OnnxInfo.FileName]));

        Assert.Equal(17, model.OpsetImport.Single().Version);
        Assert.Equal(["pixels"], model.Graph.Input.Select(i => i.Name));
        Assert.Equal(["feature", "logits"], model.Graph.Output.Select(o => o.Name));
        Assert.Equal(OnnxGraphBuilder.BatchDimension, model.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "BatchNormalization"); // folded
        Assert.Equal(3, model.Graph.Node.Count(n => n.OpType == "Conv"));
    }

    [Fact]
    public void RefusesWeightsOfTheWrongSize()
    {
        Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder("g").Initializer("w", [1f, 2f, 3f], 2, 2));
    }
}

public sealed class ExecutionProviderChoiceTests
{
    private static readonly string[] WithCuda = [ExecutionProviderChoice.CudaProvider, "CPUExecutionProvider"];

    [Fact]
    public void TakesCudaWhenItStarts()
    {
        var (session, choice) = ExecutionProviderChoice.Create(true, WithCuda, () => "gpu", () => "cpu");
        Assert.Equal(("gpu", "cuda"), (session, choice.Name));
    }

    [Fact]
    public void FallsBackToTheCpuWhenCudaCannotStart()
    {
        var (session, choice) = ExecutionProviderChoice.Create(true, WithCuda,
            () => throw new DllNotFoundException("libcudart.so.12: cannot open shared object file"), () => "cpu");
        Assert.Equal(("cpu", "cpu"), (session, choice.Name));
        Assert.Contains("libcudart.so.12", choice.Reason);
    }

    [Fact]
    public void NeverTriesCudaWhereTheBuildHasNoneOrItIsTurnedOff()
    {
        string Fail() => throw new InvalidOperationException("CUDA must not be tried");
        var (_, cpuBuild) = ExecutionProviderChoice.Create(true, ["CPUExecutionProvider"], Fail, () => "cpu");
        Assert.Contains("-p:DpqCuda=true", cpuBuild.Reason);
        var (_, off) = ExecutionProviderChoice.Create(false, WithCuda, Fail, () => "cpu");
        Assert.Contains("PreferGpu=false", off.Reason);
    }

    [Fact]
    public void ThisBuildRunsOnTheCpuAndSaysWhy()
    {
        using var temp = new TempDirectory();
        TestModelFolder.Write(temp.Path);
        using var model = Dpq.ModelFiles.LoadedModel.Open(temp.Path);
        Assert.Equal("cpu", model.Provider.Name);
        Assert.False(string.IsNullOrWhiteSpace(model.Provider.Reason));
    }
}
