import { ApiError, ConnectError } from '../../client/index.js';
import type { Cli } from '../context.js';
import { CliError, ExitCode, describeError } from '../context.js';

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
export function confirm(_cli: Cli, warning: string): Promise<boolean> {
  return askYesNo(`${warning}\nAre you sure you want to continue? [y/N] `);
}

/** A yes/no question on the terminal (readline is loaded only by the commands that ask). */
export async function askYesNo(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } catch {
    return false;
  } finally {
    rl.close();
  }
}

/** What `inspect` can look up, as docker's `--type` names it, and where the Engine API serves it. */
export const inspectKinds = {
  container: (id: string) => `/containers/${id}/json`,
  image: (id: string) => `/images/${id}/json`,
  network: (id: string) => `/networks/${id}`,
  volume: (id: string) => `/volumes/${id}`,
  config: (id: string) => `/configs/${id}`,
  node: (id: string) => `/nodes/${id}`,
  plugin: (id: string) => `/plugins/${id}/json`,
  secret: (id: string) => `/secrets/${id}`,
  service: (id: string) => `/services/${id}`,
  task: (id: string) => `/tasks/${id}`,
} as const;
export type InspectKind = keyof typeof inspectKinds;

export interface InspectOptions {
  format?: string | undefined;
  /** `-s`: containers' sizes (`size=1`); other kinds warn that it does not apply, as `docker inspect` does. */
  size?: boolean | undefined;
  /** `network inspect -v`: `verbose=true`. */
  verbose?: boolean | undefined;
}

/**
 * `inspect`, as docker's inspect package does it. Each name is looked up as each kind in turn (`docker inspect`
 * tries containers, images, networks, volumes; a kind that does not know the name is skipped, and a name no kind
 * knows is "No such object"). The objects found are printed together: as an indented JSON array, compact with
 * `--format json`, or through the template (see executeInspect). The failures
 * are reported after the output, all of them, and the command fails.
 */
export async function inspectNames(cli: Cli, names: string[], kinds: InspectKind[], o: InspectOptions = {}): Promise<void> {
  const format = o.format ?? '';
  // the template engine only for a --format template: plain inspect prints JSON
  const templates = format === '' || format === 'json' ? undefined : await import('./templates.js');
  const tmpl = templates?.inspectTemplate(format);
  const found: unknown[] = [];
  const errors: string[] = [];
  let text = '';
  for (const name of names) {
    let hit: { kind: InspectKind; object: unknown } | undefined;
    let failure: unknown;
    const lookup = (kind: InspectKind) => {
      const query = kind === 'container' && o.size ? { size: true } : kind === 'network' && o.verbose ? { verbose: 'true' } : {};
      return cli
        .client()
        .json<unknown>('GET', inspectKinds[kind](encodeURIComponent(name)), { query })
        .then((object) => ({ object }), (error: unknown) => ({ error }));
    };
    // The kinds are tried in docker's order, each lookup asked one ahead of its turn: an image is found in one
    // round trip instead of two (the lookups are reads; what is printed is the first kind that has the name).
    const lookups = [lookup(kinds[0] as InspectKind)];
    for (let i = 0; i < kinds.length; i++) {
      if (i + 1 < kinds.length) lookups.push(lookup(kinds[i + 1] as InspectKind));
      const r = await (lookups[i] as ReturnType<typeof lookup>);
      if ('object' in r) {
        hit = { kind: kinds[i] as InspectKind, object: r.object };
        break;
      }
      if (r.error instanceof ConnectError) throw r.error;
      if (kinds.length > 1 && isSkippable(r.error)) continue;
      failure = r.error;
      break;
    }
    if (!hit) {
      errors.push(failure ? describeError(failure) : `Error: No such object: ${name}`);
      continue;
    }
    if (o.size && hit.kind !== 'container' && kinds.length > 1) cli.err(`WARNING: --size ignored for ${hit.kind}`);
    if (!tmpl || !templates) {
      found.push(hit.object);
      continue;
    }
    try {
      text += `${templates.executeInspect(tmpl, hit.kind, hit.object)}\n`;
    } catch (e) {
      if (!(e instanceof templates.TemplateError)) throw e;
      errors.push(e.message);
    }
  }
  if (tmpl) process.stdout.write(text || '\n');
  else if (format === 'json') cli.out(JSON.stringify(found));
  else cli.out(JSON.stringify(found, null, 4));
  if (errors.length) throw new CliError(errors.join('\n'));
}

/** docker's isErrSkippable: a kind that does not know the name lets the next kind try. */
function isSkippable(e: unknown): boolean {
  if (e instanceof ApiError && e.status === 404) return true;
  const msg = e instanceof Error ? e.message : '';
  return msg.includes('not supported') || msg.includes('invalid reference format');
}

