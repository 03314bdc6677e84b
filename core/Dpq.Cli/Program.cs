using Dpq.Cli;

// The command-line front end that ./dpq calls for model and benchmark work. Each command is a
// class in Commands/ that parses its own arguments and calls core; this file only dispatches.
return await CommandLine.RunAsync(args, new Dictionary<string, Func<string[], CancellationToken, Task<int>>>
{
    ["train"] = TrainCommand.RunAsync,
    ["eval"] = EvalCommand.RunAsync,
    ["export-onnx"] = ExportOnnxCommand.RunAsync,
    ["copy-codes"] = CopyCodesCommand.RunAsync,
    ["parity"] = ParityCommand.RunAsync,
    ["bench"] = BenchCommand.RunAsync,
    ["publish"] = PublishCommand.RunAsync,
    ["demo-run"] = DemoCommand.RunAsync,
    ["bench-query"] = QueryBenchCommand.RunAsync,
});
