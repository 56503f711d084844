import { createInterface } from 'node:readline/promises';
import type { Cli } from '../context.js';
import { CliError, ExitCode } from '../context.js';

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
