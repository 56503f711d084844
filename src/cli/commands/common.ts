import { createInterface } from 'node:readline/promises';
import { ApiError } from '../../client/index.js';
import type { Cli } from '../context.js';
import { CliError, ExitCode } from '../context.js';
import { printInspect } from '../output.js';

/** Commander accumulator for repeatable flags (`-f a -f b`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--filter key=value` flags → the API's JSON `{"key": ["value", …]}`. */
export function filtersQuery(flags: string[]): string | undefined {
  if (flags.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid argument "${f}" for "-f, --filter" flag: bad format of filter (expected name=value)`, ExitCode.Usage);
    const k = f.slice(0, eq).trim().toLowerCase();
    (out[k] ??= []).push(f.slice(eq + 1).trim());
  }
  return JSON.stringify(out);
}

/** Splits `repo[:tag]` at the last colon after the last slash (a registry port is not a tag). */
export function splitRepoTag(ref: string): { repo: string; tag: string | undefined } {
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/') && !ref.includes('@')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: undefined };
}

/** Docker's `[y/N]` prompt; no answer (closed or non-interactive stdin) is no. */
export async function confirm(cli: Cli, warning: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${warning}\nAre you sure you want to continue? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    return false;
  } finally {
    rl.close();
    void cli;
  }
}

/**
 * `inspect`: each name is looked up as each kind in turn (`docker inspect` tries containers, then images); the
 * objects found are printed together, then the first failure is reported. With several kinds a miss reads
 * "No such object", as docker says.
 */
export async function inspectNames(cli: Cli, names: string[], kinds: Array<'containers' | 'images'>, format?: string): Promise<void> {
  const found: unknown[] = [];
  let failure: unknown;
  for (const n of names) {
    let hit = false;
    for (const kind of kinds) {
      try {
        found.push(await cli.client().json('GET', `/${kind}/${encodeURIComponent(n)}/json`));
        hit = true;
        break;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        if (kinds.length === 1) failure ??= e;
      }
    }
    if (!hit && kinds.length > 1) failure ??= new CliError(`Error: No such object: ${n}`);
  }
  printInspect(cli, found, format);
  if (failure) throw failure;
}
