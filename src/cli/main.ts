import { Command, CommanderError, type Option } from 'commander';
import { type Cli, CliError, ExitCode, createCli, describeError } from './context.js';
import { registerBuildCommands } from './commands/build.js';
import { registerCommitCommand } from './commands/commit.js';
import { registerContainerCommands } from './commands/container.js';
import { registerCpCommand } from './commands/cp.js';
import { registerExecCommands } from './commands/exec.js';
import { registerImageCommands } from './commands/image.js';
import { registerNetworkCommands } from './commands/network.js';
import { registerPsCommands } from './commands/ps.js';
import { registerStatsCommands } from './commands/stats.js';
import { registerSystemCommands } from './commands/system.js';
import { registerVolumeCommands } from './commands/volume.js';

/** Builds the command tree. Commands get a lazily created client, so `--help` never touches the daemon. */
export function buildProgram(cliFor: (host?: string) => Cli): Command {
  const program = new Command('berth')
    .description('A self-sufficient runtime for containers, compatible with Docker')
    .option('-H, --host <socket>', 'Daemon socket to connect to (default $BERTH_HOST, $DOCKER_HOST, unix:///run/berth/berth.sock)')
    .option('-v, --version', 'Print version information and quit')
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let cli: Cli | undefined;
  const lazy: Cli = {
    client: () => (cli ??= cliFor(program.opts<{ host?: string }>().host)).client(),
    out: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
    err: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
  };
  const image = program.command('image').description('Manage images');
  const system = program.command('system').description('Manage Berth');
  const container = program.command('container').description('Manage containers');
  const network = program.command('network').description('Manage networks');
  const volume = program.command('volume').description('Manage volumes');
  const builder = program.command('builder').description('Manage builds');
  registerImageCommands(program, image, lazy);
  registerSystemCommands(program, system, lazy);
  registerContainerCommands(program, container, lazy);
  registerPsCommands(program, container, lazy);
  registerExecCommands(program, container, lazy);
  registerStatsCommands(program, container, lazy);
  registerCpCommand(program, container, lazy);
  registerCommitCommand(program, container, lazy);
  registerNetworkCommands(network, lazy);
  registerVolumeCommands(volume, lazy);
  registerBuildCommands(program, image, builder, lazy);
  for (const c of [program, image, system, container, ...program.commands, ...image.commands, ...system.commands, ...container.commands, ...network.commands, ...volume.commands, ...builder.commands]) {
    c.exitOverride();
    if (c !== program) c.helpOption('--help', 'Print usage'); // docker's subcommands keep -h for their own flags
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  if (argv[2] === '-v' || argv[2] === '--version') {
    process.stdout.write('Berth version 0.1.0\n');
    return 0;
  }
  const program = buildProgram(createCli);
  try {
    await program.parseAsync(withPflagBooleans(program, argv));
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      // Commander has printed its message; docker exits 125 on flag errors.
      return ExitCode.Usage;
    }
    const msg = describeError(e);
    if (!(e instanceof CliError && e.message === '')) process.stderr.write(msg + '\n');
    return e instanceof CliError ? e.exitCode : ExitCode.Failure;
  }
}

const pflagBool = /^(?:(1|t|true)|(0|f|false))$/i;

/**
 * docker's flag parser (pflag) lets a boolean flag take a value: `--rm=false`, `--sig-proxy=false`, `-t=true`.
 * Commander does not, so those become `--flag`, `--no-flag` (where the command has one) or nothing (false is the
 * default of a flag without a negation). Stops at the first argument that is not a command: after it come
 * operands, and for `run`/`exec` the container's own arguments.
 */
export function withPflagBooleans(program: Command, argv: string[]): string[] {
  const out = argv.slice(0, 2);
  let cmd = program;
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') {
      const sub = arg.startsWith('-') ? undefined : cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
      if (!sub) return [...out, ...argv.slice(i)];
      cmd = sub;
      out.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const option = cmd.options.find((o: Option) => o.long === flag || o.short === flag);
    const value = eq < 0 ? undefined : pflagBool.exec(arg.slice(eq + 1));
    if (option && !option.required && !option.optional && !option.negate && value) {
      const negation = cmd.options.find((o: Option) => o.negate && o.long === `--no-${option.long?.slice(2)}`);
      if (value[1]) out.push(flag);
      else if (negation?.long) out.push(negation.long);
      continue;
    }
    // A flag true by default exists only as its negation (`--no-sig-proxy`): `--sig-proxy=false` means it, and
    // `--sig-proxy` or `=true` is the default.
    const negation = !option && flag.startsWith('--') ? cmd.options.find((o: Option) => o.negate && o.long === `--no-${flag.slice(2)}`) : undefined;
    if (negation?.long && (eq < 0 || value)) {
      if (value && !value[1]) out.push(negation.long);
      continue;
    }
    out.push(arg);
    if (option?.required && eq < 0 && !/^-[^-]./.test(arg)) out.push(argv[++i] ?? ''); // its value
  }
  return out;
}
