import { Command, CommanderError, type Option } from 'commander';
import { type Cli, ExitCode, createCli, reportFailure } from './context.js';
/** The command groups every module registers into. */
interface Groups {
  program: Command;
  image: Command;
  system: Command;
  container: Command;
  network: Command;
  volume: Command;
  builder: Command;
}

type Register = (g: Groups, cli: Cli) => void;

/**
 * The command modules, loaded when a command needs them: a process that runs `ps` parses and runs none of the
 * other commands' code (the whole CLI is half a megabyte of JavaScript, and start-up is what users feel).
 */
const modules = {
  image: () => import('./commands/image.js').then((m): Register => (g, cli) => m.registerImageCommands(g.program, g.image, cli)),
  system: () => import('./commands/system.js').then((m): Register => (g, cli) => m.registerSystemCommands(g.program, g.system, cli)),
  run: () => import('./commands/container.js').then((m): Register => (g, cli) => m.registerRunCommands(g.program, g.container, cli)),
  container: () => import('./commands/container.js').then((m): Register => (g, cli) => m.registerContainerCommands(g.program, g.container, cli)),
  ps: () => import('./commands/ps.js').then((m): Register => (g, cli) => m.registerPsCommands(g.program, g.container, cli)),
  exec: () => import('./commands/exec.js').then((m): Register => (g, cli) => m.registerExecCommands(g.program, g.container, cli)),
  stats: () => import('./commands/stats.js').then((m): Register => (g, cli) => m.registerStatsCommands(g.program, g.container, cli)),
  cp: () => import('./commands/cp.js').then((m): Register => (g, cli) => m.registerCpCommand(g.program, g.container, cli)),
  commit: () => import('./commands/commit.js').then((m): Register => (g, cli) => m.registerCommitCommand(g.program, g.container, cli)),
  network: () => import('./commands/network.js').then((m): Register => (g, cli) => m.registerNetworkCommands(g.network, cli)),
  volume: () => import('./commands/volume.js').then((m): Register => (g, cli) => m.registerVolumeCommands(g.volume, cli)),
  build: () => import('./commands/build.js').then((m): Register => (g, cli) => m.registerBuildCommands(g.program, g.image, g.builder, cli)),
  registry: () => import('./commands/registry.js').then((m): Register => (g, cli) => m.registerRegistryCommands(g.program, g.image, cli)),
  completion: () => import('./commands/completion.js').then((m): Register => (g, cli) => m.registerCompletionCommands(g.program, cli)),
  compose: () => import('./compose/commands.js').then((m): Register => (g, cli) => m.registerComposeCommands(g.program, cli)),
};
export type CommandModule = keyof typeof modules;
/** Registration order, as `--help` lists the commands. */
const allModules = Object.keys(modules) as CommandModule[];

/** The modules that register a top-level command word (a group's subcommands may come from several). */
export const commandModules: Record<string, CommandModule[]> = {
  image: ['image', 'build', 'registry'],
  system: ['system'],
  container: ['run', 'container', 'ps', 'exec', 'stats', 'cp', 'commit'],
  network: ['network'],
  volume: ['volume'],
  builder: ['build'],
  ...Object.fromEntries(['images', 'history', 'tag', 'rmi', 'import', 'save', 'load'].map((c) => [c, ['image']])),
  ...Object.fromEntries(['version', 'info', 'events', 'inspect'].map((c) => [c, ['system']])),
  ...Object.fromEntries(
    ['start', 'logs', 'rm', 'stop', 'kill', 'restart', 'update', 'wait', 'rename', 'pause', 'unpause', 'port', 'top', 'diff', 'export'].map((c) => [c, ['container']]),
  ),
  run: ['run'],
  create: ['run'],
  ps: ['ps'],
  exec: ['exec'],
  attach: ['exec'],
  stats: ['stats'],
  cp: ['cp'],
  commit: ['commit'],
  build: ['build'],
  ...Object.fromEntries(['pull', 'push', 'login', 'logout'].map((c) => [c, ['registry']])),
  completion: ['completion'],
  compose: ['compose'],
  // Completing walks the whole command tree.
  __complete: allModules,
};

/** The command word of `argv` (after the global flags), or undefined when there is none or a global flag is unknown. */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-H' || arg === '--host') i++;
    else if (arg.startsWith('--host=') || (arg.startsWith('-H') && arg.length > 2)) continue;
    else return arg.startsWith('-') ? undefined : arg;
  }
  return undefined;
}

/**
 * Builds the command tree, with the modules `only` names (default: all). Commands get a lazily created client,
 * so `--help` never touches the daemon.
 */
export async function buildProgram(cliFor: (host?: string) => Cli, only: CommandModule[] = allModules): Promise<Command> {
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
  const groups: Groups = {
    program,
    image: program.command('image').description('Manage images'),
    system: program.command('system').description('Manage Berth'),
    container: program.command('container').description('Manage containers'),
    network: program.command('network').description('Manage networks'),
    volume: program.command('volume').description('Manage volumes'),
    builder: program.command('builder').description('Manage builds'),
  };
  const wanted = allModules.filter((m) => only.includes(m));
  for (const register of await Promise.all(wanted.map((m) => modules[m]()))) register(groups, lazy);
  const { image, system, container, network, volume, builder } = groups;
  for (const c of [program, image, system, container, ...program.commands, ...image.commands, ...system.commands, ...container.commands, ...network.commands, ...volume.commands, ...builder.commands]) {
    c.exitOverride();
    if (c !== program) c.helpOption('--help', 'Print usage'); // docker's subcommands keep -h for their own flags
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const word = commandWord(argv);
  const program = await buildProgram(createCli, (word !== undefined && commandModules[word]) || allModules);
  try {
    await program.parseAsync(withPflagBooleans(program, argv));
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      // Commander has printed its message; docker exits 125 on flag errors.
      return ExitCode.Usage;
    }
    return reportFailure(e);
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
