// The hottest commands run without commander when their command line is plain: commander's loading and the
// command tree it builds are ~10 ms of a run that otherwise takes ~50 ms over Node's own start. "Plain" is a
// narrow grammar whose meaning is certain (known flags, values in their own word or after `=`); anything else —
// help, an unknown or malformed flag, an operand, a pflag boolean with a value — goes to commander (main.ts),
// which gives the usual result or error. The options object handed to the command is what commander would give.
import { createCli, reportFailure } from './context.js';

/** A flag of a fast command: a boolean, its `--no-` form, a value, or a repeatable value (commander's collect). */
interface Flag {
  long: string;
  short?: string;
  key: string;
  kind: 'bool' | 'negate' | 'value' | 'list';
}

interface FastCommand {
  flags: Flag[];
  /** commander's defaults: lists start empty, a flag defined only as `--no-x` defaults to true. */
  defaults: () => Record<string, unknown>;
  run: (cli: ReturnType<typeof createCli>, o: Record<string, unknown>) => Promise<void>;
}

const commands: Record<string, FastCommand> = {
  // as registerPsCommands (commands/ps.ts) defines it
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
      { long: '--format', key: 'format', kind: 'value' },
    ],
    defaults: () => ({ filter: [], trunc: true }),
    run: async (cli, o) => (await import('./commands/ps.js')).listContainers(cli, o as unknown as import('./commands/ps.js').PsOptions),
  },
};

/** The words fast.ts may answer, for the entry point's cheap first look. */
export const fastWords: readonly string[] = Object.keys(commands);

/**
 * The global `-H` and the command's options from a plain command line, or undefined when it is not plain.
 * Short flags follow commander: `-aq` is `-a -q`, `-fX` and `-af X` give `-f` its value.
 */
export function parsePlain(argv: string[]): { host: string | undefined; word: string; options: Record<string, unknown> } | undefined {
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
  const word = argv[i++];
  const command = word === undefined ? undefined : Object.hasOwn(commands, word) ? commands[word] : undefined;
  if (!command || word === undefined) return undefined;
  const o = command.defaults();
  const set = (flag: Flag, value?: string): boolean => {
    if (flag.kind === 'bool' || flag.kind === 'negate') o[flag.key] = flag.kind === 'bool';
    else if (value === undefined || value.startsWith('-')) return false;
    else if (flag.kind === 'list') o[flag.key] = [...(o[flag.key] as string[]), value];
    else o[flag.key] = value;
    return true;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
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
    } else return undefined; // an operand, `-`, `--`: commander's to judge
  }
  return { host, word, options: o };
}

/** Runs a plain fast command and returns its exit code, or undefined when main.ts must handle the command line. */
export async function runFast(argv: string[]): Promise<number | undefined> {
  const plain = parsePlain(argv);
  if (!plain) return undefined;
  try {
    await commands[plain.word]!.run(createCli(plain.host), plain.options);
    return 0;
  } catch (e) {
    return reportFailure(e);
  }
}
