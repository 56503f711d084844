// `ps` (`container ls`): the daemon's container list through docker's ContainerContext, field for field.
import type { Command } from 'commander';
import type { Cli } from '../context.js';
import { CliError } from '../context.js';
import { GoNil, goJSON, goType, marshalJSON, quote } from '../format/gofmt.js';
import { goTime, humanSize, timeAgo } from '../format/units.js';
import { printRows } from '../list.js';
import { familiarString, parseReference } from '../../oci/reference.js';
import { collect, filtersQuery } from './common.js';
import type { ContainerSummary, OciPlatform, Port } from '../../client/types.js';

export type { ContainerSummary, Port } from '../../client/types.js';

const ROW_TYPE = '*formatter.ContainerContext';

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** docker's `--format raw` for containers. */
const RAW = `container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
`;

const HEADERS = {
  ID: 'CONTAINER ID',
  RunningFor: 'CREATED',
  CreatedAt: 'CREATED AT',
  LocalVolumes: 'LOCAL VOLUMES',
};

/** stringid.TruncateID: the hex after any `algo:` prefix, cut to 12. */
function truncateID(id: string): string {
  const colon = id.indexOf(':');
  return (colon >= 0 ? id.slice(colon + 1) : id).slice(0, 12);
}

/** formatter.Ellipsis: at most `max` display characters, the last one `…`. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (chars.length <= max) return s;
  return max <= 1 ? chars.slice(0, max).join('') : chars.slice(0, max - 1).join('') + '…';
}

/** ContainerContext.Image: with truncation, an image ID is shortened and a reference loses its digest. */
function imageField(c: ContainerSummary, trunc: boolean): string {
  if (c.Image === '') return '<no image>';
  if (!trunc) return c.Image;
  if (truncateID(c.ImageID ?? '') === truncateID(c.Image)) return truncateID(c.Image);
  try {
    const { digest: _, ...named } = parseReference(c.Image);
    return familiarString(named);
  } catch {
    return c.Image;
  }
}

/** ContainerContext.Names: without --no-trunc, only the container's own name (linked names have a slash). */
function namesField(c: ContainerSummary, trunc: boolean): string {
  let names = c.Names.map((n) => n.slice(1));
  if (trunc) {
    const own = names.find((n) => !n.includes('/'));
    if (own !== undefined) names = [own];
  }
  return names.join(',');
}

/** formatter.DisplayablePorts: consecutive ports grouped into ranges, mappings to other host ports listed last. */
export function displayablePorts(ports: readonly Port[]): string {
  const sorted = [...ports].sort(
    (a, b) =>
      a.PrivatePort - b.PrivatePort ||
      cmp(a.IP ?? '', b.IP ?? '') ||
      (a.PublicPort ?? 0) - (b.PublicPort ?? 0) ||
      cmp(a.Type, b.Type),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const p of sorted) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== current) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const group = groups.get(key);
    if (!group) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === group.last + 1) {
      group.last = current;
      continue;
    }
    result.push(formGroup(key, group.first, group.last));
    // a new group under the same key keeps the key's first position, as Go's map of groups does
    groups.set(key, { first: current, last: current });
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** net.JoinHostPort: an IPv6 host in brackets. */
export function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function formGroup(key: string, start: number, last: number): string {
  const parts = key.split('/');
  const ip = parts.length > 1 ? parts[0]! : '';
  const type = parts.length > 1 ? parts[1]! : parts[0]!;
  let group = start === last ? String(start) : `${start}-${last}`;
  if (ip) group = `${joinHostPort(ip, group)}->${group}`;
  return `${group}/${type}`;
}

/** ContainerContext.Platform: a *Platform, printed as `os/arch[/variant]` (platforms.FormatAll). */
function platformField(p: OciPlatform | null | undefined): unknown {
  if (!p) return new GoNil('*formatter.Platform');
  const os = p['os.version'] ? `${p.os}(${p['os.version']})` : p.os;
  const text = [os || 'unknown', p.architecture || 'unknown', ...(p.variant ? [p.variant] : [])].join('/');
  const fields = { architecture: p.architecture, os: p.os, ...(p['os.version'] && { 'os.version': p['os.version'] }), ...(p['os.features']?.length && { 'os.features': p['os.features'] }), ...(p.variant && { variant: p.variant }) };
  return Object.defineProperties({} as object, {
    toString: { value: () => text },
    [goType]: { value: '*formatter.Platform' },
    [marshalJSON]: { value: () => goJSON(fields) },
  });
}

/**
 * One row of docker's ContainerContext: its fields (methods in Go; `Size` stays one, so a format that never reads
 * it can be told from one that does) and `Label "name"`.
 */
export function containerRow(c: ContainerSummary, trunc: boolean, onSize: () => void = () => {}): Record<string, unknown> {
  const labels = c.Labels ?? {};
  const mounts = c.Mounts ?? [];
  return {
    ID: trunc ? truncateID(c.Id) : c.Id,
    Names: namesField(c, trunc),
    Image: imageField(c, trunc),
    Command: quote(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: goTime(new Date(c.Created * 1000)),
    RunningFor: timeAgo(new Date(c.Created * 1000)),
    Ports: displayablePorts(c.Ports ?? []),
    State: c.State,
    Status: c.Status,
    Size: () => {
      onSize();
      const rw = humanSize(c.SizeRw ?? 0);
      return (c.SizeRootFs ?? 0) > 0 ? `${rw} (virtual ${humanSize(c.SizeRootFs!)})` : rw;
    },
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(','),
    Label: (name: string) => labels[name] ?? '',
    Mounts: mounts.map((m) => (trunc ? ellipsis(m.Name || m.Source || '', 15) : m.Name || m.Source || '')).join(','),
    LocalVolumes: String(mounts.filter((m) => m.Driver === 'local').length),
    // a Go map's order, which docker leaves random; sorted here
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {})
      .sort()
      .join(','),
    Platform: platformField(c.ImageManifestDescriptor?.platform),
  };
}

/** The empty ContainerContext docker runs a `--format` on before listing: errors there fail the command. */
const emptySummary: ContainerSummary = { Id: '', Names: [], Image: '', Command: '', Created: 0, State: '', Status: '' };

/** `ps`'s options as commander gives them (see fast.ts for the same without commander). */
export interface PsOptions {
  all?: boolean;
  filter: string[];
  last?: string;
  latest?: boolean;
  quiet?: boolean;
  size?: boolean;
  trunc: boolean;
  format?: string;
}

/** `ps`: the daemon's list through docker's ContainerContext. */
export async function listContainers(cli: Cli, o: PsOptions): Promise<void> {
  const format = o.format ?? '';
  if (format && o.quiet) cli.err('WARNING: Ignoring custom format, because both --format and --quiet are set.');
  let size = !!o.size;
  if (format) {
    // docker runs the format once on an empty row: to check it, and to see whether it reads .Size
    let readsSize = false;
    const [{ executeOnRow }, { TemplateError }] = await Promise.all([import('../format/formatter.js'), import('../format/template.js')]);
    try {
      executeOnRow(format, containerRow(emptySummary, false, () => (readsSize = true)), ROW_TYPE);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      throw new CliError(`${e.kind === 'parse' ? 'failed to parse template' : 'failed to execute template'}: ${e.goMessage}`);
    }
    if (!o.quiet && !size && o.size === undefined && readsSize) size = true;
  }
  const limit = o.latest && o.last === undefined ? 1 : o.last !== undefined ? Number(o.last) : undefined;
  const list = await cli.client().json<ContainerSummary[]>('GET', '/containers/json', {
    query: { all: o.all, size, filters: filtersQuery(o.filter), limit: limit !== undefined && limit > 0 ? String(limit) : undefined },
  });
  await printRows(
    cli,
    list.map((c) => containerRow(c, o.trunc)),
    {
      format,
      quiet: o.quiet,
      quietField: 'ID',
      quietOverridesFormat: true,
      defaultTable: size ? `${DEFAULT_TABLE}\t{{.Size}}` : DEFAULT_TABLE,
      raw: size ? `${RAW}size: {{.Size}}\n` : RAW,
      rawQuiet: 'container_id: {{.ID}}',
      headers: HEADERS,
      typeName: ROW_TYPE,
    },
  );
}

export function registerPsCommands(program: Command, container: Command, cli: Cli): void {
  const ps = (cmd: Command) =>
    cmd
      .option('-a, --all', 'Show all containers (default shows just running)')
      .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
      .option('-n, --last <int>', 'Show n last created containers (includes all states)')
      .option('-l, --latest', 'Show the latest created container (includes all states)')
      .option('-q, --quiet', 'Only display container IDs')
      .option('-s, --size', 'Display total file sizes')
      .addOption(cmd.createOption('--no-size').hideHelp()) // what `--size=false` becomes
      .option('--no-trunc', "Don't truncate output")
      .option('--format <string>', 'Format output using a custom template')
      .action((o: PsOptions) => listContainers(cli, o));
  ps(program.command('ps').description('List containers'));
  ps(container.command('ls').alias('list').alias('ps').description('List containers'));
}
