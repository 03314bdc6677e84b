using BenchmarkDotNet.Running;

// dotnet run -c Release --project core/Dpq.Benchmarks -- --filter '*'
// (add --job short for a quick look; the machine's other work shows up in the error columns).
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
