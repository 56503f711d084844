import type { Command } from 'commander';
import { clientApiVersion } from '../../client/index.js';
import { type Cli, CliError } from '../context.js';
import { humanSize, humanSize4, timeAgo } from '../format/units.js';
import { familiarString, parseReference } from '../../oci/reference.js';
import { type InspectKind, collect, filtersQuery, inspectKinds, inspectNames } from './common.js';
import { type ContainerSummary, containerRow } from './ps.js';

/** The Go-template engine, loaded only by a run with --format (or a table that needs it). */
const template = () => import('../format/template.js');

const clientVersion = '0.1.0';
const goArch = process.arch === 'x64' ? 'amd64' : process.arch;

/** `version`: the client's and the daemon's versions, or a --format over both. */
export async function showVersion(cli: Cli, o: { format?: string }): Promise<void> {
  const client = { Version: clientVersion, ApiVersion: clientApiVersion, GoVersion: `node${process.versions.node}`, Os: 'linux', Arch: goArch };
  let server: Record<string, unknown> | undefined;
  let failure: unknown;
  try {
    server = await cli.client().json<Record<string, unknown>>('GET', '/version');
  } catch (e) {
    failure = e;
  }
  if (o.format) {
    cli.out((await template()).parseTemplate(o.format).execute({ Client: client, Server: server ?? null }));
  } else {
    const lines = [
      'Client:',
      ` Version:           ${client.Version}`,
      ` API version:       ${client.ApiVersion}`,
      ` Go version:        ${client.GoVersion}`,
      ` OS/Arch:           linux/${goArch}`,
    ];
    if (server) {
      lines.push(
        '',
        `Server: ${(server['Platform'] as { Name?: string } | undefined)?.Name ?? ''}`,
        ' Engine:',
        `  Version:          ${String(server['Version'])}`,
        `  API version:      ${String(server['ApiVersion'])} (minimum version ${String(server['MinAPIVersion'])})`,
        `  Go version:       ${String(server['GoVersion'])}`,
        `  OS/Arch:          ${String(server['Os'])}/${String(server['Arch'])}`,
        `  Kernel version:   ${String(server['KernelVersion'])}`,
      );
    }
    cli.out(lines.join('\n'));
  }
  if (failure) throw failure;
}

export interface InspectAnyOptions {
  format?: string;
  size?: boolean;
  type?: string;
}

/** `inspect`: each name as the kinds docker tries, or as --type. */
export async function inspectAny(cli: Cli, names: string[], o: InspectAnyOptions): Promise<void> {
  const all = Object.keys(inspectKinds).sort() as InspectKind[];
  const expected = `must be one of "${all.join('", "')}"`;
  if (o.type === '') throw new CliError(`type is empty: ${expected}`);
  if (o.type !== undefined && !all.includes(o.type as InspectKind)) throw new CliError(`unknown type: "${o.type}": ${expected}`);
  // without --type: what docker tries on a daemon that is not a swarm manager
  const kinds: InspectKind[] = o.type ? [o.type as InspectKind] : ['container', 'image', 'network', 'volume'];
  await inspectNames(cli, names, kinds, o);
}

export function registerSystemCommands(program: Command, system: Command, cli: Cli): void {
  program
    .command('version')
    .description('Show the Berth version information')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action((o: { format?: string }) => showVersion(cli, o));

  type RegistryConfig = { InsecureRegistryCIDRs?: string[]; IndexConfigs?: Record<string, { Name: string; Secure: boolean }>; Mirrors?: string[] };
  /** docker's lines for the registry settings: insecure indexes and ranges, then mirrors. */
  const registryLines = (r: RegistryConfig | undefined): string[] => {
    const insecure = [...Object.values(r?.IndexConfigs ?? {}).filter((c) => !c.Secure).map((c) => c.Name), ...(r?.InsecureRegistryCIDRs ?? [])];
    const mirrors = r?.Mirrors ?? [];
    return [...(insecure.length ? [' Insecure Registries:', ...insecure.map((x) => `  ${x}`)] : []), ...(mirrors.length ? [' Registry Mirrors:', ...mirrors.map((m) => `  ${m}`)] : [])];
  };
  const info = (cmd: Command) =>
    cmd.option('-f, --format <string>', 'Format output using a custom template').action(async (o: { format?: string }) => {
      const i = await cli.client().json<Record<string, unknown>>('GET', '/info');
      if (o.format) return cli.out((await template()).parseTemplate(o.format).execute(i));
      const runtimes = Object.keys((i['Runtimes'] as object | undefined) ?? {}).join(' ');
      const driverStatus = (i['DriverStatus'] as string[][] | undefined) ?? [];
      cli.out(
        [
          'Server:',
          ` Containers: ${String(i['Containers'])}`,
          `  Running: ${String(i['ContainersRunning'])}`,
          `  Paused: ${String(i['ContainersPaused'])}`,
          `  Stopped: ${String(i['ContainersStopped'])}`,
          ` Images: ${String(i['Images'])}`,
          ` Server Version: ${String(i['ServerVersion'])}`,
          ` Storage Driver: ${String(i['Driver'])}`,
          ...driverStatus.map(([k, v]) => `  ${k}: ${v}`),
          ` Logging Driver: ${String(i['LoggingDriver'])}`,
          ` Cgroup Driver: ${String(i['CgroupDriver'])}`,
          ` Cgroup Version: ${String(i['CgroupVersion'])}`,
          ` Runtimes: ${runtimes}`,
          ` Default Runtime: ${String(i['DefaultRuntime'])}`,
          ` Init Binary: ${String(i['InitBinary'] ?? '')}`,
          ' Security Options:',
          ...((i['SecurityOptions'] as string[] | undefined) ?? []).flatMap((opt) => {
            // `name=seccomp,profile=builtin` → "  seccomp" / "   Profile: builtin", as docker prints it
            const fields = Object.fromEntries(opt.split(',').map((kv) => kv.split('=') as [string, string]));
            return [`  ${fields['name'] ?? opt}`, ...Object.entries(fields).filter(([k]) => k !== 'name').map(([k, v]) => `   ${k[0]?.toUpperCase()}${k.slice(1)}: ${v}`)];
          }),
          ` Kernel Version: ${String(i['KernelVersion'])}`,
          ` Operating System: ${String(i['OperatingSystem'])}`,
          ` OSType: ${String(i['OSType'])}`,
          ` Architecture: ${String(i['Architecture'])}`,
          ` CPUs: ${String(i['NCPU'])}`,
          ` Total Memory: ${humanBinary(Number(i['MemTotal']))}`,
          ` Name: ${String(i['Name'])}`,
          ` ID: ${String(i['ID'])}`,
          ` Docker Root Dir: ${String(i['DockerRootDir'])}`,
          ` Debug Mode: ${String(i['Debug'])}`,
          ...registryLines(i['RegistryConfig'] as RegistryConfig | undefined),
          ` Live Restore Enabled: ${String(i['LiveRestoreEnabled'])}`,
        ].join('\n'),
      );
      for (const w of (i['Warnings'] as string[] | null | undefined) ?? []) cli.err(w);
    });
  info(program.command('info').description('Display system-wide information'));
  info(system.command('info').description('Display system-wide information'));

  system
    .command('df')
    .description('Show Berth disk usage')
    .option('--format <string>', 'Format output using a custom template')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .action(async (o: { format?: string; verbose?: boolean }) => {
      type Img = { Id: string; RepoTags: string[] | null; Created: number; Size: number; SharedSize: number; Containers: number };
      type Vol = { Name: string; UsageData?: { Size: number; RefCount: number } | null };
      const df = await cli.client().json<{ LayersSize: number; Images: Img[] | null; Containers: ContainerSummary[] | null; Volumes: Vol[] | null }>('GET', '/system/df');
      const volumes = df.Volumes ?? [];
      const volumeSize = (v: Vol) => Math.max(0, v.UsageData?.Size ?? 0);
      const volumesSize = volumes.reduce((n, v) => n + volumeSize(v), 0);
      const volumesReclaimable = volumes.filter((v) => !v.UsageData?.RefCount).reduce((n, v) => n + volumeSize(v), 0);
      const images = df.Images ?? [];
      const containers = df.Containers ?? [];
      // docker's DiskUsageContext: summary sizes with 4 significant digits, rows as `images`/`ps` print them.
      const activeImages = images.filter((i) => i.Containers > 0);
      const imagesReclaimable = df.LayersSize - activeImages.reduce((n, i) => n + (i.Size - i.SharedSize), 0);
      const isActive = (c: ContainerSummary) => ['running', 'paused', 'restarting'].includes(c.State);
      const containersSize = containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
      const containersReclaimable = containers.filter((c) => !isActive(c)).reduce((n, c) => n + (c.SizeRw ?? 0), 0);
      const withPct = (part: number, whole: number) => humanSize4(part) + (whole > 0 ? ` (${Math.trunc((part * 100) / whole)}%)` : '');
      const rows = [
        { Type: 'Images', TotalCount: String(images.length), Active: String(activeImages.length), Size: humanSize4(df.LayersSize), Reclaimable: withPct(imagesReclaimable, df.LayersSize) },
        { Type: 'Containers', TotalCount: String(containers.length), Active: String(containers.filter(isActive).length), Size: humanSize4(containersSize), Reclaimable: withPct(containersReclaimable, containersSize) },
        { Type: 'Local Volumes', TotalCount: String(volumes.length), Active: String(volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length), Size: humanSize4(volumesSize), Reclaimable: withPct(volumesReclaimable, volumesSize) },
        { Type: 'Build Cache', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
      ];
      const headers = { TotalCount: 'TOTAL', Reclaimable: 'RECLAIMABLE' };
      const { printList } = await import('../output.js');
      if (!o.verbose) {
        printList(cli, rows, { format: o.format, quietField: 'Type', headers, defaultTable: 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}' });
        return;
      }
      // One row per image, under its first tag only.
      const imageRows = images.map((i) => {
        const ref = i.RepoTags?.length ? parseReference(i.RepoTags[0]!) : undefined;
        return {
          Repository: ref ? familiarString({ domain: ref.domain, path: ref.path }) : '<none>',
          Tag: ref?.tag ?? '<none>',
          ID: i.Id.slice(7, 19),
          CreatedSince: timeAgo(new Date(i.Created * 1000)),
          Size: humanSize(i.Size),
          SharedSize: i.SharedSize === -1 ? 'N/A' : humanSize4(i.SharedSize),
          UniqueSize: i.SharedSize === -1 ? 'N/A' : humanSize4(i.Size - i.SharedSize),
          Containers: i.Containers === -1 ? 'N/A' : String(i.Containers),
        };
      });
      cli.out('Images space usage:\n\n');
      printList(cli, imageRows, {
        quietField: 'ID',
        headers: { ID: 'IMAGE ID', CreatedSince: 'CREATED', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE' },
        defaultTable: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}',
      });
      cli.out('\nContainers space usage:\n\n');
      // Without the virtual size, as docker shows them here.
      printList(cli, containers.map((c) => containerRow({ ...c, SizeRootFs: 0 }, true)), {
        quietField: 'ID',
        headers: { ID: 'CONTAINER ID', RunningFor: 'CREATED', LocalVolumes: 'LOCAL VOLUMES' },
        defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}',
      });
      cli.out('\nLocal Volumes space usage:\n\n');
      const volumeRows = volumes.map((v) => ({ Name: v.Name, Links: String(v.UsageData?.RefCount ?? 0), Size: humanSize4(volumeSize(v)) }));
      printList(cli, volumeRows, { quietField: 'Name', headers: { Name: 'VOLUME NAME' }, defaultTable: 'table {{.Name}}\t{{.Links}}\t{{.Size}}' });
      cli.out('\nBuild cache usage: 0B\n\n');
      printList(cli, [], {
        quietField: 'ID',
        headers: { ID: 'CACHE ID', CacheType: 'CACHE TYPE', CreatedSince: 'CREATED', LastUsedSince: 'LAST USED', UsageCount: 'USAGE' },
        defaultTable: 'table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}',
      });
    });

  const events = (cmd: Command) =>
    cmd
      .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
      .option('--format <string>', 'Format the output using the given Go template')
      .option('--since <string>', 'Show all events created since timestamp')
      .option('--until <string>', 'Stream events until this timestamp')
      .action(async (o: { filter: string[]; format?: string; since?: string; until?: string }) => {
        const res = await cli.client().call('GET', '/events', { query: { filters: filtersQuery(o.filter), since: o.since, until: o.until } });
        const tmpl = o.format && o.format !== 'json' ? (await template()).parseTemplate(o.format) : undefined;
        await cli.client().messages(res, (e) => {
          if (o.format === 'json') return cli.out(JSON.stringify(e));
          if (tmpl) return cli.out(tmpl.execute(e));
          const actor = e['Actor'] as { ID: string; Attributes?: Record<string, string> };
          const attrs = Object.entries(actor.Attributes ?? {})
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([k, v]) => `${k}=${v}`)
            .join(', ');
          cli.out(`${rfc3339NanoFixed(Number(e['timeNano']))} ${String(e['Type'])} ${String(e['Action'])} ${actor.ID}${attrs ? ` (${attrs})` : ''}`);
        });
      });
  events(program.command('events').description('Get real time events from the server'));
  events(system.command('events').description('Get real time events from the server'));

  program
    .command('inspect')
    .description('Return low-level information on Berth objects')
    .argument('<NAME|ID...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('-s, --size', 'Display total file sizes if the type is container')
    .option('--type <string>', 'Only inspect objects of the given type')
    .action((names: string[], o: InspectAnyOptions) => inspectAny(cli, names, o));
}

/** Go's "2006-01-02T15:04:05.000000000Z07:00" in UTC, as docker events prints times. */
function rfc3339NanoFixed(nanos: number): string {
  const ms = Math.floor(nanos / 1e6);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const frac = String(Math.round(nanos % 1e9)).padStart(9, '0');
  return `${iso}.${frac}Z`;
}

function humanBinary(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(2).replace(/\.?0+$/, '')}${units[i]}`;
}
