using System.CommandLine;
using Dpq.Cli;

// The command line behind ./dpq: every command, its options and its help are declared here and in
// Commands/, each command a class that checks its options and calls core (or a script, for the stack).
var root = new RootCommand("DPQ Serverless: image similarity search whose index stores a few bytes per image")
{
    StackCommands.Demo(),
    ImportCommand.Create(),
    QueryCommand.Create(),
    StackCommands.Up(),
    StackCommands.Down(),
    PublishCommand.Create(),
    TrainCommand.Create(),
    VersionCommands.Retrain(),
    VersionCommands.Versions(),
    VersionCommands.Rollback(),
    CatalogCommand.Create(),
    EvalCommand.Create(),
    StackCommands.Test(),
    BenchCommand.Create(StackCommands.BenchQuery()),
    ExportOnnxCommand.Create(),
    CopyCodesCommand.Create(),
    ParityCommand.Create(),
    StackCommands.Azurite(),
    StackCommands.Setup(),
    // What the scripts run against a stack they started.
    Hidden(DemoCommand.Create()),
    Hidden(QueryBenchCommand.Create()),
};
return await root.Parse(args).InvokeAsync();

static Command Hidden(Command command)
{
    command.Hidden = true;
    return command;
}
