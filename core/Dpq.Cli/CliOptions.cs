using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Dpq.Cli;

/// <summary>
/// Options as every command declares them: a description and default for --help, and range checks that
/// turn a bad value into a parse error naming the option, before any work starts.
/// </summary>
internal static class CliOptions
{
    public static Option<int> Int(string name, string description, int defaultValue, int min = int.MinValue, int max = int.MaxValue)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "N" };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<int>();
            if (value < min || value > max)
                result.AddError(max == int.MaxValue
                    ? $"{name} must be at least {min} (got {value})"
                    : $"{name} must be a whole number from {min} to {max} (got {value})");
        });
        return option;
    }

    /// <summary>A whole number with no default: null when not given.</summary>
    public static Option<int?> OptionalInt(string name, string description, int min = int.MinValue, int max = int.MaxValue)
    {
        var option = new Option<int?>(name) { Description = description, HelpName = "N" };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } value && (value < min || value > max))
                result.AddError($"{name} must be a whole number from {min} to {max} (got {value})");
        });
        return option;
    }

    public static Option<double> Positive(string name, string description, double defaultValue)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "X" };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<double>();
            if (!(value > 0) || !double.IsFinite(value)) result.AddError($"{name} must be a positive number (got {value.ToString(CultureInfo.InvariantCulture)})");
        });
        return option;
    }

    public static Option<double> Number(string name, string description, double defaultValue)
    {
        var option = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "X" };
        option.Validators.Add(result =>
        {
            if (!double.IsFinite(result.GetValueOrDefault<double>())) result.AddError($"{name} must be a finite number");
        });
        return option;
    }

    public static Option<string> Text(string name, string description, string? helpName = null, bool required = false, string? defaultValue = null)
    {
        var option = new Option<string>(name) { Description = description, Required = required, HelpName = helpName };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        return option;
    }

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>Adds every option to <paramref name="command"/> and returns it, for declarations in one expression.</summary>
    public static Command With(this Command command, params Symbol[] symbols)
    {
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option option: command.Options.Add(option); break;
                case Argument argument: command.Arguments.Add(argument); break;
                case Command sub: command.Subcommands.Add(sub); break;
                default: throw new ArgumentException($"cannot add {symbol.GetType().Name}", nameof(symbols));
            }
        }
        return command;
    }

    /// <summary>
    /// Sets what <paramref name="command"/> runs, under the error contract of every command: a
    /// <see cref="UsageException"/> prints "dpq NAME: message" and exits 2; Ctrl+C exits 130.
    /// </summary>
    public static Command Runs(this Command command, Func<ParseResult, CancellationToken, Task<int>> run)
    {
        command.SetAction(async (result, cancellationToken) =>
        {
            var name = string.Join(' ', CommandPath(result.CommandResult));
            try
            {
                return await run(result, cancellationToken);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"dpq {name}: {e.Message}");
                return 2;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Console.Error.WriteLine($"dpq {name}: cancelled");
                return 130;
            }
        });
        return command;
    }

    private static IEnumerable<string> CommandPath(CommandResult? result)
    {
        var names = new Stack<string>();
        for (var r = result; r is not null && r.Parent is not null; r = r.Parent as CommandResult) names.Push(r.Command.Name);
        return names;
    }
}

/// <summary>A command line that cannot be run as written; the message says what to change.</summary>
public sealed class UsageException(string message) : Exception(message);
