// `volume ls` and what the volume commands share with it (the API's Volume, docker's argument and filter checks):
// apart from volume.ts so that the CLI's fast path carries only this.
import { type Cli, CliError, ExitCode } from '../context.js';
import { quote } from '../format/gofmt.js';
import { humanSize4 } from '../format/units.js';
import { naturalLess } from '../format/natural.js';
import { printRows } from '../list.js';

/** The API's Volume. */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Status?: Record<string, unknown> | null;
  Labels: Record<string, string> | null;
  Scope: string;
  Options: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number } | null;
  ClusterVolume?: { Spec?: { Group?: string; AccessMode?: { Availability?: string } } } | null;
}

const DEFAULT_TABLE = 'table {{.Driver}}\t{{.Name}}';
const HEADERS = { Name: 'VOLUME NAME' };

/** docker's volumeContext: the fields (methods in Go) a `volume ls --format` can use. */
export function volumeRow(v: Volume): Record<string, unknown> {
  const labels = v.Labels ?? {};
  const cluster = v.ClusterVolume ?? undefined;
  return {
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    // a Go map's order, which docker leaves random; sorted here
    Labels: Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`)
      .join(','),
    Label: (name: string) => labels[name] ?? '',
    Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
    Size: v.UsageData ? humanSize4(v.UsageData.Size) : 'N/A',
    Group: cluster ? (cluster.Spec?.Group ?? '') : 'N/A',
    Availability: cluster ? (cluster.Spec?.AccessMode?.Availability ?? '') : 'N/A',
    Status: 'N/A',
  };
}

/** A flag value docker's flag parser refuses: its message, the usage line and the help hint, exit 125. */
export function flagError(command: string, usage: string, message: string): CliError {
  return new CliError(`${message}\n\nUsage:  berth volume ${command} ${usage}\n\nRun 'berth volume ${command} --help' for more information`, ExitCode.Usage);
}

/**
 * cobra's argument checks as docker 28 words them (exit 1). The "at most" one really reads "SRun" in docker 28: its
 * template prints a stray "S".
 */
export function checkArgs(command: string, usage: string, args: string[], rule: 'none' | 'min1' | 'max1'): void {
  const tail = `\n\nUsage:  berth volume ${command} ${usage}\n\n`;
  const hint = `'berth volume ${command} --help' for more information`;
  if (rule === 'none' && args.length > 0) throw new CliError(`berth: 'berth volume ${command}' accepts no arguments${tail}Run ${hint}`);
  if (rule === 'min1' && args.length < 1) throw new CliError(`berth: 'berth volume ${command}' requires at least 1 argument${tail}See ${hint}`);
  if (rule === 'max1' && args.length > 1) throw new CliError(`berth: 'berth volume ${command}' requires at most 1 argument${tail}SRun ${hint}`);
}

/**
 * `--filter k=v` flags as the API's `{"k": ["v", …]}` (filters.ParseFlag: the key trimmed and lower-cased, the value
 * trimmed; an empty key is sent as docker does). A flag without `=` is docker's flag error for this command's flag.
 */
export function volumeFilters(command: string, flag: string, filters: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of filters) {
    const eq = f.indexOf('=');
    if (eq < 0) throw flagError(command, '[OPTIONS]', `invalid argument ${quote(f)} for "${flag}" flag: bad format of filter (expected name=value)`);
    (out[f.slice(0, eq).trim().toLowerCase()] ??= []).push(f.slice(eq + 1).trim());
  }
  return out;
}

export const filtersParam = (filters: Record<string, string[]>) => (Object.keys(filters).length ? JSON.stringify(filters) : undefined);

export interface VolumeListOptions {
  filter: string[];
  format?: string;
  quiet?: boolean;
}

/** `volume ls`: the volumes by name, as docker's table, `-q` or `--format`. */
export async function listVolumes(cli: Cli, args: string[], o: VolumeListOptions): Promise<void> {
  checkArgs('ls', '[OPTIONS]', args, 'none');
  const filters = filtersParam(volumeFilters('ls', '-f, --filter', o.filter));
  const r = await cli.client().json<{ Volumes: Volume[] | null }>('GET', '/volumes', { query: { filters } });
  const list = [...(r.Volumes ?? [])].sort((a, b) => (naturalLess(a.Name, b.Name) ? -1 : naturalLess(b.Name, a.Name) ? 1 : 0));
  const rows = list.map(volumeRow);
  const opts = {
    format: o.format,
    quiet: o.quiet,
    quietField: 'Name',
    defaultTable: DEFAULT_TABLE,
    raw: 'name: {{.Name}}\\ndriver: {{.Driver}}\\n',
    rawQuiet: 'name: {{.Name}}',
    headers: HEADERS,
    typeName: '*formatter.volumeContext',
  };
  await printRows(cli, rows, opts, async () => (await import('./templates.js')).printListing(cli, rows, opts));
}
