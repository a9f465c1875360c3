/**
 * What every scram-rotator command shares: a commander Command with
 * `--help`/`-h` and `--version` on every command and subcommand, exit
 * codes from one table, usage errors on one line that name the option and
 * never repeat a value, and errors without a stack trace unless
 * SCRAM_ROTATOR_DEBUG=1.
 *
 * Usage errors never print back what was typed: an argument in the wrong
 * place may be a password (`scram-rotator hash <password>`). Commander's own
 * messages quote it (unknown option, unknown command, invalid value), so
 * {@link ScramCommand.error} rewrites each by its code.
 *
 * @module
 */
import { Command, type Option, type OutputConfiguration } from 'commander';
import { RotationError } from '../../lambda/errors.js';
import packageJson from '../../package.json' with { type: 'json' };
import { UsageError } from '../workflow/common.js';
import { CliError } from './errors.js';
import { EXIT, exitCodesHelp } from './exit-codes.js';
import { condenseSdkWarnings } from './warnings.js';

/** The package's version, printed by `--version`. */
export const VERSION: string = packageJson.version;

/** Whether to print stack traces (SCRAM_ROTATOR_DEBUG=1). */
export const debug = (): boolean => process.env.SCRAM_ROTATOR_DEBUG === '1';

/** The shape of an option name; anything else is not repeated (it may be a password). */
const OPTION_NAME = /^(--[a-z][a-z0-9]*(-[a-z0-9]+)*|-[A-Za-z])$/;

/** `scram-rotator doctor` for a subcommand, `local:up` for a checkout tool. */
function fullName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The one-line usage message for commander's error `code`, without any typed value. */
export function usageMessage(command: Command, code: string, message: string): string {
  const body = message.replace(/^error: /, '');
  switch (code) {
    case 'commander.unknownOption': {
      const did = /\n\(Did you mean (.+)\?\)$/.exec(body)?.[1];
      const typed = /^unknown option '(.*)'/s.exec(
        body.replace(/\n\(Did you mean .+\?\)$/, ''),
      )?.[1];
      const name = typed?.split('=')[0] ?? '';
      const shown = OPTION_NAME.test(name)
        ? `unknown option '${name}'`
        : 'unknown option (not repeated here: it may be a password)';
      return `${shown}${did ? `; did you mean ${did}?` : ''}`;
    }
    case 'commander.unknownCommand': {
      const did = /\n\(Did you mean (.+)\?\)$/.exec(body)?.[1];
      const names = command.commands.map((c) => c.name()).join(', ');
      return `unknown command (not repeated here)${did ? `; did you mean ${did}?` : ''}; the commands are ${names}`;
    }
    case 'commander.excessArguments': {
      const got = /but got (\d+)\./.exec(body)?.[1] ?? 'some';
      return `takes options only, and got ${got} other argument(s) (not repeated here, in case one is a password)`;
    }
    case 'commander.invalidArgument': {
      // "option '<flags>' argument '<value>' is invalid. <reason>": the
      // reason is ours (bin/cli/options.ts) and never quotes the value.
      const flags = /^option '([^']*)'/.exec(body)?.[1] ?? '';
      const long = flags.split(/[ ,]+/).find((flag) => flag.startsWith('--')) ?? flags;
      const reason = body.slice(body.lastIndexOf("' is invalid. ") + "' is invalid. ".length);
      return `${long} ${reason.replace(/^Allowed choices are /, 'takes one of ').replace(/\.$/, '')}`;
    }
    case 'commander.optionMissingArgument': {
      const flags = /^option '([^']*)'/.exec(body)?.[1] ?? '';
      return `${flags} needs a value`;
    }
    case 'commander.missingMandatoryOptionValue': {
      const flags = /option '([^']*)'/.exec(body)?.[1] ?? '';
      return `${flags.split(' ')[0]} is required`;
    }
    default:
      return body.split('\n')[0] ?? body;
  }
}

/** Prints a usage error in the one format, and exits 64. */
export function failUsage(command: Command, message: string): never {
  const script = process.env.npm_lifecycle_event;
  const help = script ? `npm run ${script} -- --help` : `${fullName(command)} --help`;
  const end = /[.?]$/.test(message) ? '' : '.';
  process.stderr.write(`${fullName(command)}: ${message}${end} See: ${help}\n`);
  process.exit(EXIT.usage);
}

/** Options that must be given, checked by {@link configure}'s hook. */
const REQUIRED = new WeakSet<Option>();

/**
 * Marks an option as required. Checked just before the action, after
 * commander has refused unknown options, so that a mistyped required option
 * gets its "did you mean" rather than "is required".
 */
export function required(option: Option): Option {
  REQUIRED.add(option);
  option.description = `${option.description} (required)`;
  return option;
}

/**
 * A Command whose parse errors are one line, name the option and never a
 * value, and exit 64; subcommands made with `.command()` are ScramCommands too.
 */
export class ScramCommand extends Command {
  override createCommand(name?: string): ScramCommand {
    return new ScramCommand(name);
  }

  override error(message: string, options?: { code?: string; exitCode?: number }): never {
    return failUsage(this, usageMessage(this, options?.code ?? 'commander.error', message));
  }
}

const output: OutputConfiguration = {
  writeOut: (text) => process.stdout.write(text),
  writeErr: (text) => process.stderr.write(text),
};

/**
 * A command with the shared settings: `-h, --help`, `-V, --version`, a
 * "did you mean" for a mistyped option, and the exit codes in its help.
 */
export function newCommand(name: string, description: string): ScramCommand {
  return configure(new ScramCommand(name), description);
}

/** Applies the shared settings to a command made by `.command()` or {@link newCommand}. */
export function configure<C extends Command>(command: C, description: string): C {
  command
    .description(description)
    .version(VERSION, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .configureOutput(output)
    // Help asked for exits 0; help shown because no subcommand was given is bad usage.
    .exitOverride((error) =>
      process.exit(
        error.code === 'commander.help' && error.exitCode !== 0 ? EXIT.usage : error.exitCode,
      ),
    )
    .addHelpText('after', `\n${exitCodesHelp()}\nSCRAM_ROTATOR_DEBUG=1 prints stack traces.`)
    .hook('preAction', (_, acting) => {
      for (const option of acting.options) {
        if (REQUIRED.has(option) && acting.getOptionValue(option.attributeName()) === undefined) {
          failUsage(acting, `${option.long} is required`);
        }
      }
    });
  return command;
}

/** One line for an error that stopped a command; the stack too under SCRAM_ROTATOR_DEBUG=1. */
export function describeFailure(error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  if (debug()) {
    const lines = [e.stack ?? `${e.name}: ${e.message}`];
    for (let cause = e.cause; cause instanceof Error; cause = cause.cause) {
      lines.push(`caused by: ${cause.stack ?? cause.message}`);
    }
    return lines.join('\n');
  }
  // Our own errors read as sentences; others keep their name, which says what failed.
  if (e instanceof CliError) return e.message;
  const hint = e instanceof RotationError ? '' : ' (SCRAM_ROTATOR_DEBUG=1 prints the stack trace)';
  return `${e.name}: ${e.message}${hint}`;
}

/**
 * The JSON line `--json` prints for an error that stopped a command:
 * `{"ok":false,"error":{"name":...,"message":...}}`, the message as
 * {@link describeFailure} gives it without a stack (our errors never hold a
 * secret value).
 */
export function failureJson(error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  return JSON.stringify({ ok: false, error: { name: e.name, message: e.message } });
}

/**
 * The action of a command whose work returns an exit code: usage errors
 * thrown by the work print as usage errors (64), others as one line (1).
 */
export function action<A extends unknown[]>(
  command: Command,
  work: (...args: A) => Promise<number>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    let code: number;
    try {
      code = await work(...args);
    } catch (error) {
      if (error instanceof UsageError) failUsage(command, error.message);
      process.stderr.write(`${fullName(command)}: ${describeFailure(error)}\n`);
      // --json promises one JSON object as the last line of stdout: a
      // script reading it gets one on failure too, with the same one line.
      if (command.opts().json === true) {
        process.stdout.write(`${failureJson(error)}\n`);
      }
      code = EXIT.failed;
    }
    process.exit(code);
  };
}

/**
 * For the whole process: the SDK's Node.js warning condensed, a closed
 * stdout (`| head`) ending quietly, and anything thrown outside an action
 * (a top-level await in a checkout tool included) printed as one line.
 */
function installProcessHandlers(program: Command): (error: unknown) => never {
  condenseSdkWarnings(debug());
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
  });
  const crash = (error: unknown): never => {
    process.stderr.write(`${program.name()}: ${describeFailure(error)}\n`);
    process.exit(EXIT.failed);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  return crash;
}

/** Runs a program with subcommands (scram-rotator). */
export async function runProgram(
  program: Command,
  argv: readonly string[] = process.argv,
): Promise<void> {
  const crash = installProcessHandlers(program);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    crash(error);
  }
}

/**
 * Parses a checkout tool's command line (local:up, demo, follower, bench)
 * with the same help, version, usage errors and error output as
 * scram-rotator, and returns its options; the tool then runs its own code.
 */
export function parseTool<T>(command: Command, argv: readonly string[] = process.argv): T {
  installProcessHandlers(command);
  // An action, so that the hooks run and excess arguments are refused.
  command.action(() => undefined);
  command.parse([...argv]);
  return command.opts<T & Record<string, unknown>>();
}
