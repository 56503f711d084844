import { ApiError, ConnectError } from '../../client/index.js';
import type { Cli } from '../context.js';
import { CliError, ExitCode, describeError } from '../context.js';
import { GoNil, marshalJSON } from '../format/gofmt.js';
import { type Template, TemplateError, lenientMap, parseTemplate } from '../format/template.js';
import { printList } from '../output.js';

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

/** docker's exit code for an `inspect --format` that does not parse. */
const TEMPLATE_PARSE_EXIT = 64;

/** An inspect `--format` (none for '' and `json`); one that does not parse exits 64, as docker's. */
export function inspectTemplate(format: string): Template | undefined {
  if (format === '' || format === 'json') return undefined;
  try {
    return parseTemplate(format);
  } catch (e) {
    throw e instanceof TemplateError ? new CliError(e.message, TEMPLATE_PARSE_EXIT) : e;
  }
}

/** A list command's table or template, a template's error printed as it is (docker's `ls` commands). */
export function printListing(...args: Parameters<typeof printList>): void {
  try {
    printList(...args);
  } catch (e) {
    throw e instanceof TemplateError ? new CliError(e.message) : e;
  }
}

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
  const tmpl = inspectTemplate(format);
  const found: unknown[] = [];
  const errors: string[] = [];
  let text = '';
  for (const name of names) {
    let hit: { kind: InspectKind; object: unknown } | undefined;
    let failure: unknown;
    for (const kind of kinds) {
      try {
        const query = kind === 'container' && o.size ? { size: true } : kind === 'network' && o.verbose ? { verbose: 'true' } : {};
        hit = { kind, object: await cli.client().json<unknown>('GET', inspectKinds[kind](encodeURIComponent(name)), { query }) };
        break;
      } catch (e) {
        if (e instanceof ConnectError) throw e;
        if (kinds.length > 1 && isSkippable(e)) continue;
        failure = e;
        break;
      }
    }
    if (!hit) {
      errors.push(failure ? describeError(failure) : `Error: No such object: ${name}`);
      continue;
    }
    if (o.size && hit.kind !== 'container' && kinds.length > 1) cli.err(`WARNING: --size ignored for ${hit.kind}`);
    if (!tmpl) {
      found.push(hit.object);
      continue;
    }
    try {
      text += `${executeInspect(tmpl, hit.kind, hit.object)}\n`;
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
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

/**
 * The template with `missingkey=error`, so a misspelt field is an error as in docker. Docker runs the template on
 * its Go types first, where a field the JSON leaves out (omitempty) is still a zero value and a missing key of a
 * real map (Labels…) prints "<no value>"; Berth keeps to the JSON and marks those cases for the kinds' common
 * paths (see inspectShapes).
 */
function executeInspect(tmpl: Template, kind: InspectKind, object: unknown): string {
  // As docker's tryRawInspectFallback: when the typed run fails, the template runs again on the plain JSON, and
  // that run's result (or error) is the answer.
  const raw: unknown = JSON.parse(JSON.stringify(object));
  const shape = inspectShapes[kind];
  if (shape && typeof object === 'object' && object !== null) {
    for (const path of shape.maps) {
      const map = at(object, path);
      if (typeof map === 'object' && map !== null) Object.defineProperty(map, lenientMap, { value: true });
      // a nil map (JSON null): its keys have no value, and it still marshals as null
      const dot = path.lastIndexOf('.');
      const parent = dot < 0 ? object : at(object, path.slice(0, dot));
      if (map === null && typeof parent === 'object' && parent !== null) {
        const nil = Object.defineProperties({}, { [lenientMap]: { value: true }, [marshalJSON]: { value: () => 'null' } });
        Object.defineProperty(parent, path.slice(dot + 1), { value: nil, enumerable: true });
      }
    }
    for (const [path, zero] of Object.entries(shape.optional)) {
      const dot = path.lastIndexOf('.');
      const parent = dot < 0 ? object : at(object, path.slice(0, dot));
      const key = path.slice(dot + 1);
      // Not enumerable: readable by the template, left out of {{json}} and printing as omitempty leaves it out.
      const value = zero === nilMap ? Object.defineProperty({}, lenientMap, { value: true }) : zero;
      if (typeof parent === 'object' && parent !== null && !Object.hasOwn(parent, key)) Object.defineProperty(parent, key, { value });
    }
  }
  try {
    return tmpl.execute(object, { missingKey: 'error' });
  } catch {
    return tmpl.execute(raw, { missingKey: 'error' });
  }
}

const at = (object: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), object);

/** Stands for a nil map in inspectShapes: missing keys give "no value". */
const nilMap = Symbol('nil map');

/** Map-valued fields, and omitempty fields with their zero values, of docker's container and image inspect types. */
const inspectShapes: Partial<Record<InspectKind, { maps: string[]; optional: Record<string, unknown> }>> = {
  container: {
    maps: ['Config.Labels', 'Config.ExposedPorts', 'Config.Volumes', 'NetworkSettings.Networks', 'NetworkSettings.Ports', 'HostConfig.LogConfig.Config', 'HostConfig.PortBindings', 'HostConfig.Sysctls', 'HostConfig.Tmpfs', 'HostConfig.StorageOpt', 'GraphDriver.Data'],
    optional: {
      SizeRw: new GoNil('*int64'),
      SizeRootFs: new GoNil('*int64'),
      'State.Health': new GoNil('*container.Health'),
      'Config.Healthcheck': new GoNil('*v1.HealthcheckConfig'),
      'Config.StopSignal': '',
      'Config.StopTimeout': new GoNil('*int'),
      'Config.Shell': [],
      'HostConfig.Init': new GoNil('*bool'),
      'HostConfig.Runtime': '',
      'HostConfig.Mounts': [],
      'Config.Labels': nilMap,
    },
  },
  network: { maps: ['Labels', 'Options', 'Containers', 'IPAM.Options'], optional: { Labels: nilMap, Options: nilMap, 'IPAM.Options': nilMap } },
  image: {
    maps: ['Config.Labels', 'Config.ExposedPorts', 'Config.Volumes', 'GraphDriver.Data'],
    optional: { Parent: '', Comment: '', DockerVersion: '', Author: '', Variant: '', 'Config.Healthcheck': new GoNil('*v1.HealthcheckConfig'), 'Config.StopSignal': '', 'Config.Shell': [], 'Config.Labels': nilMap },
  },
};
