// The hottest commands (ps, images, version, inspect, logs, stop, rm, exec, network ls, volume ls, and their
// `container …`/`image …` forms) run without commander when their command line is plain: commander's loading and the command tree it builds are ~10 ms of a run that otherwise takes
// ~50 ms over Node's own start. "Plain" is a narrow grammar whose meaning is certain (known flags, values in their
// own word or after `=`, as many operands as the command takes); anything else — help, an unknown or malformed
// flag, operands commander would refuse, a pflag boolean with a value — goes to commander (main.ts), which gives
// the usual result or error. The options object handed to the command is what commander would give.
import type { LogsOptions } from './commands/container-ops.js';
import type { BuildFlags } from './commands/build-run.js';
import type { ExecFlags } from './commands/exec.js';
import type { NetworkListOptions } from './commands/network-list.js';
import type { VolumeListOptions } from './commands/volume-list.js';
import type { ImagesOptions } from './commands/image.js';
import type { PsOptions } from './commands/ps.js';
import { type Cli, createCli, reportFailure } from './context.js';

/** A flag of a fast command: a boolean, its `--no-` form, a value, or a repeatable value (commander's collect). */
interface Flag {
  long: string;
  short?: string;
  key: string;
  kind: 'bool' | 'negate' | 'value' | 'list';
}

interface FastCommand {
  flags: Flag[];
  /** How many operands commander accepts: fewer or more is its error to give. */
  operands: [min: number, max: number];
  /** commander's passThroughOptions: from the first operand on, every word is an operand (`exec c ls -l`). */
  passThrough?: boolean;
  /** commander's defaults: lists start empty, a flag defined only as `--no-x` defaults to true. */
  defaults: () => Record<string, unknown>;
  run: (cli: Cli, operands: string[], o: Record<string, unknown>) => Promise<void>;
}

/** The options as the command's own type: the object is what commander would fill for it. */
const as = <T>(o: Record<string, unknown>) => o as unknown as T;
const str = (v: unknown) => v as string | undefined;
const bool = (v: unknown) => v as boolean | undefined;

const format: Flag = { long: '--format', key: 'format', kind: 'value' };
const formatF: Flag = { long: '--format', short: '-f', key: 'format', kind: 'value' };
const many: [number, number] = [1, Infinity];

/** Each as its register function in commands/ defines it (test/unit/cli-fast.test.ts compares them). */
const commands: Record<string, FastCommand> = {
  ps: {
    flags: [
      { long: '--all', short: '-a', key: 'all', kind: 'bool' },
      { long: '--filter', short: '-f', key: 'filter', kind: 'list' },
      { long: '--last', short: '-n', key: 'last', kind: 'value' },
      { long: '--latest', short: '-l', key: 'latest', kind: 'bool' },
      { long: '--quiet', short: '-q', key: 'quiet', kind: 'bool' },
      { long: '--size', short: '-s', key: 'size', kind: 'bool' },
      { long: '--no-size', key: 'size', kind: 'negate' },
      { long: '--no-trunc', key: 'trunc', kind: 'negate' },
      format,
    ],
    operands: [0, 0],
    defaults: () => ({ filter: [], trunc: true }),
    run: async (cli, _, o) => (await import('./commands/ps.js')).listContainers(cli, as<PsOptions>(o)),
  },
  images: {
    flags: [
      { long: '--all', short: '-a', key: 'all', kind: 'bool' },
      { long: '--digests', key: 'digests', kind: 'bool' },
      { long: '--filter', short: '-f', key: 'filter', kind: 'list' },
      format,
      { long: '--no-trunc', key: 'trunc', kind: 'negate' },
      { long: '--quiet', short: '-q', key: 'quiet', kind: 'bool' },
    ],
    operands: [0, 1],
    defaults: () => ({ filter: [], trunc: true }),
    run: async (cli, [ref], o) => (await import('./commands/image.js')).listImages(cli, ref, as<ImagesOptions>(o)),
  },
  version: {
    flags: [formatF],
    operands: [0, 0],
    defaults: () => ({}),
    run: async (cli, _, o) => (await import('./commands/system.js')).showVersion(cli, o),
  },
  inspect: {
    flags: [formatF, { long: '--size', short: '-s', key: 'size', kind: 'bool' }, { long: '--type', key: 'type', kind: 'value' }],
    operands: many,
    defaults: () => ({}),
    run: async (cli, names, o) => (await import('./commands/system.js')).inspectAny(cli, names, o),
  },
  logs: {
    flags: [
      { long: '--follow', short: '-f', key: 'follow', kind: 'bool' },
      { long: '--tail', short: '-n', key: 'tail', kind: 'value' },
      { long: '--timestamps', short: '-t', key: 'timestamps', kind: 'bool' },
      { long: '--since', key: 'since', kind: 'value' },
      { long: '--until', key: 'until', kind: 'value' },
      { long: '--details', key: 'details', kind: 'bool' },
    ],
    operands: [1, 1],
    defaults: () => ({ tail: 'all' }),
    run: async (cli, [name], o) => (await import('./commands/container-ops.js')).showLogs(cli, name!, as<LogsOptions>(o)),
  },
  stop: {
    flags: [
      { long: '--signal', short: '-s', key: 'signal', kind: 'value' },
      { long: '--timeout', short: '-t', key: 'timeout', kind: 'value' },
    ],
    operands: many,
    defaults: () => ({}),
    run: async (cli, names, o) => (await import('./commands/container-ops.js')).onEachContainer(cli, names, 'POST', '/stop', { t: str(o['timeout']), signal: str(o['signal']) }),
  },
  exec: {
    flags: [
      { long: '--interactive', short: '-i', key: 'interactive', kind: 'bool' },
      { long: '--tty', short: '-t', key: 'tty', kind: 'bool' },
      { long: '--detach-keys', key: 'detachKeys', kind: 'value' },
      { long: '--detach', short: '-d', key: 'detach', kind: 'bool' },
      { long: '--env', short: '-e', key: 'env', kind: 'list' },
      { long: '--env-file', key: 'envFile', kind: 'list' },
      { long: '--user', short: '-u', key: 'user', kind: 'value' },
      { long: '--workdir', short: '-w', key: 'workdir', kind: 'value' },
      { long: '--privileged', key: 'privileged', kind: 'bool' },
    ],
    operands: [2, Infinity],
    passThrough: true,
    defaults: () => ({ env: [], envFile: [] }),
    run: async (cli, [name, ...command], o) => (await import('./commands/exec.js')).execInContainer(cli, name!, command, as<ExecFlags>(o)),
  },
  'network ls': {
    flags: [
      { long: '--filter', short: '-f', key: 'filter', kind: 'list' },
      format,
      { long: '--no-trunc', key: 'trunc', kind: 'negate' },
      { long: '--quiet', short: '-q', key: 'quiet', kind: 'bool' },
    ],
    operands: [0, 0],
    defaults: () => ({ filter: [], trunc: true }),
    run: async (cli, _, o) => (await import('./commands/network-list.js')).listNetworks(cli, as<NetworkListOptions>(o)),
  },
  'volume ls': {
    flags: [{ long: '--filter', short: '-f', key: 'filter', kind: 'list' }, format, { long: '--quiet', short: '-q', key: 'quiet', kind: 'bool' }],
    operands: [0, 0],
    defaults: () => ({ filter: [] }),
    run: async (cli, args, o) => (await import('./commands/volume-list.js')).listVolumes(cli, args, as<VolumeListOptions>(o)),
  },
  build: buildCommand('build'),
  'image build': buildCommand('image build'),
  'builder build': buildCommand('builder build'),
  rm: {
    flags: [
      { long: '--force', short: '-f', key: 'force', kind: 'bool' },
      { long: '--volumes', short: '-v', key: 'volumes', kind: 'bool' },
    ],
    operands: many,
    defaults: () => ({}),
    run: async (cli, names, o) => (await import('./commands/container-ops.js')).onEachContainer(cli, names, 'DELETE', '', { force: bool(o['force']), v: bool(o['volumes']) }),
  },
};

/** `build` and its other names (which its messages name): a rebuild is a command run in a loop, too. */
function buildCommand(name: string): FastCommand {
  const value = (long: string, key: string, short?: string): Flag => ({ long, key, kind: 'value', ...(short && { short }) });
  const list = (long: string, key: string, short?: string): Flag => ({ long, key, kind: 'list', ...(short && { short }) });
  const flag = (long: string, key: string, short?: string): Flag => ({ long, key, kind: 'bool', ...(short && { short }) });
  return {
    flags: [
      list('--add-host', 'addHost'),
      list('--build-arg', 'buildArg'),
      list('--cache-from', 'cacheFrom'),
      value('--cgroup-parent', 'cgroupParent'),
      flag('--compress', 'compress'),
      value('--cpu-period', 'cpuPeriod'),
      value('--cpu-quota', 'cpuQuota'),
      value('--cpu-shares', 'cpuShares', '-c'),
      value('--cpuset-cpus', 'cpusetCpus'),
      value('--cpuset-mems', 'cpusetMems'),
      flag('--disable-content-trust', 'disableContentTrust'),
      value('--file', 'file', '-f'),
      flag('--force-rm', 'forceRm'),
      value('--iidfile', 'iidfile'),
      value('--isolation', 'isolation'),
      list('--label', 'label'),
      value('--memory', 'memory', '-m'),
      value('--memory-swap', 'memorySwap'),
      value('--network', 'network'),
      { long: '--no-cache', key: 'cache', kind: 'negate' },
      value('--platform', 'platform'),
      flag('--pull', 'pull'),
      flag('--quiet', 'quiet', '-q'),
      flag('--rm', 'rm'),
      { long: '--no-rm', key: 'rm', kind: 'negate' },
      list('--security-opt', 'securityOpt'),
      value('--shm-size', 'shmSize'),
      flag('--squash', 'squash'),
      list('--tag', 'tag', '-t'),
      value('--target', 'target'),
      list('--ulimit', 'ulimit'),
    ],
    operands: [1, 1],
    defaults: () => ({ addHost: [], buildArg: [], cacheFrom: [], label: [], securityOpt: [], tag: [], ulimit: [], cache: true, rm: true }),
    run: async (cli, [context], o) => (await import('./commands/build-run.js')).runBuild(cli, name, context!, as<BuildFlags>(o)),
  };
}

// The same commands under their other names: commander's `list` aliases, and the management commands'
// `container …` and `image …` forms of the top-level ones.
const aliases: Record<string, string> = {
  'network list': 'network ls',
  'volume list': 'volume ls',
  'container ls': 'ps',
  'container list': 'ps',
  'container ps': 'ps',
  'image ls': 'images',
  'image list': 'images',
  'container logs': 'logs',
  'container stop': 'stop',
  'container rm': 'rm',
  'container exec': 'exec',
};
for (const [name, same] of Object.entries(aliases)) commands[name] = commands[same]!;

/** The (first) words fast.ts may answer, for the entry point's cheap first look. */
export const fastWords: readonly string[] = [...new Set(Object.keys(commands).map((k) => k.split(' ')[0]!))];

/**
 * The global `-H` and the command's options from a plain command line, or undefined when it is not plain.
 * Short flags follow commander: `-aq` is `-a -q`, `-fX` and `-af X` give `-f` its value.
 */
export function parsePlain(argv: string[]): { host: string | undefined; word: string; operands: string[]; options: Record<string, unknown> } | undefined {
  let i = 2;
  let host: string | undefined;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-H' || arg === '--host') {
      host = argv[++i];
      if (host === undefined || host.startsWith('-')) return undefined;
    } else if (arg.startsWith('--host=')) host = arg.slice('--host='.length);
    else if (arg.startsWith('-H') && arg.length > 2 && !arg.includes('=')) host = arg.slice(2);
    else break;
  }
  let word = argv[i++];
  // a two-word command (`network ls`): its second word follows the first at once, as commander takes it
  if (word !== undefined && !Object.hasOwn(commands, word) && Object.hasOwn(commands, `${word} ${argv[i]}`)) word = `${word} ${argv[i++]}`;
  const command = word === undefined ? undefined : Object.hasOwn(commands, word) ? commands[word] : undefined;
  if (!command || word === undefined) return undefined;
  const o = command.defaults();
  const operands: string[] = [];
  const set = (flag: Flag, value?: string): boolean => {
    if (flag.kind === 'bool' || flag.kind === 'negate') o[flag.key] = flag.kind === 'bool';
    else if (value === undefined || value.startsWith('-')) return false;
    else if (flag.kind === 'list') o[flag.key] = [...(o[flag.key] as string[]), value];
    else o[flag.key] = value;
    return true;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (command.passThrough && operands.length > 0) operands.push(arg);
    else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const flag = command.flags.find((f) => f.long === (eq < 0 ? arg : arg.slice(0, eq)));
      if (!flag) return undefined;
      if (eq >= 0) {
        if (flag.kind !== 'value' && flag.kind !== 'list') return undefined; // pflag's `--all=false`: main.ts
        if (!set(flag, arg.slice(eq + 1))) return undefined;
      } else if (!set(flag, flag.kind === 'value' || flag.kind === 'list' ? argv[++i] : undefined)) return undefined;
    } else if (arg.startsWith('-') && arg.length > 1 && !arg.includes('=')) {
      for (let j = 1; j < arg.length; j++) {
        const flag = command.flags.find((f) => f.short === `-${arg[j]}`);
        if (!flag) return undefined;
        if (flag.kind === 'bool' || flag.kind === 'negate') {
          set(flag);
          continue;
        }
        if (!set(flag, j + 1 < arg.length ? arg.slice(j + 1) : argv[++i])) return undefined;
        break;
      }
    } else if (arg.startsWith('-')) return undefined; // `-`, `--`, a pflag `-x=…`: commander's to judge
    else operands.push(arg);
  }
  if (operands.length < command.operands[0] || operands.length > command.operands[1]) return undefined;
  return { host, word, operands, options: o };
}

/** Runs a plain fast command and returns its exit code, or undefined when main.ts must handle the command line. */
export async function runFast(argv: string[]): Promise<number | undefined> {
  const plain = parsePlain(argv);
  if (!plain) return undefined;
  try {
    await commands[plain.word]!.run(createCli(plain.host), plain.operands, plain.options);
    return 0;
  } catch (e) {
    return reportFailure(e);
  }
}
