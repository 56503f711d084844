// `volume create|ls|inspect|rm|prune`: docker 28's flags, requests, output and exit codes.
import type { Command } from 'commander';
import { ApiError, ConnectError } from '../../client/index.js';
import { type Cli, CliError, describeError } from '../context.js';
import { GoNil, goJSON, goType, marshalJSON, quote } from '../format/gofmt.js';
import { humanSize4 } from '../format/units.js';
import { collect, confirm } from './common.js';
import { type Volume, type VolumeListOptions, checkArgs, filtersParam, flagError, listVolumes, volumeFilters } from './volume-list.js';

/** A Go map as docker's client decodes it: keys in order, and a JSON null a nil map (prints map[], encodes null). */
function goMap(m: Record<string, unknown> | null | undefined): object {
  if (m === null || m === undefined) {
    const nil = {};
    Object.defineProperty(nil, 'toJSON', { value: () => null });
    Object.defineProperty(nil, marshalJSON, { value: () => 'null' });
    return nil;
  }
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
}

/** A Go struct: a missing field is an error naming its type, not a map's "no value". */
class GoStruct {
  constructor(type: string) {
    Object.defineProperty(this, goType, { value: type });
  }
}

/**
 * The Volume as `docker volume inspect` has it: decoded into Go's volume.Volume and encoded again, so its fields come
 * in the struct's order, omitempty ones left out when empty (while templates still see their zero values), and
 * map keys sorted.
 */
export function goVolume(v: Volume): object {
  const out = new GoStruct('volume.Volume');
  const field = (name: string, value: unknown, present = true) => Object.defineProperty(out, name, { value, enumerable: present, writable: true });
  field('ClusterVolume', v.ClusterVolume ?? new GoNil('*volume.ClusterVolume'), !!v.ClusterVolume);
  field('CreatedAt', v.CreatedAt ?? '', !!v.CreatedAt);
  field('Driver', v.Driver ?? '');
  field('Labels', goMap(v.Labels));
  field('Mountpoint', v.Mountpoint ?? '');
  field('Name', v.Name ?? '');
  field('Options', goMap(v.Options));
  field('Scope', v.Scope ?? '');
  field('Status', goMap(v.Status), !!v.Status && Object.keys(v.Status).length > 0);
  field('UsageData', v.UsageData ? Object.assign(new GoStruct('*volume.UsageData'), { RefCount: v.UsageData.RefCount, Size: v.UsageData.Size }) : new GoNil('*volume.UsageData'), !!v.UsageData);
  return out;
}

/** Go's json.MarshalIndent with four spaces: JSON.stringify's layout, with Go's escaping of <, >, & and U+2028/9. */
function goIndentedJSON(v: unknown): string {
  const escapes: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };
  // outside strings JSON has none of these characters, so replacing them everywhere only touches strings
  return JSON.stringify(v, null, 4).replace(/[<>&\u2028\u2029]/g, (c) => escapes[c]!);
}

/** opts.ValidateLabel, as docker's flag error. */
function checkLabels(labels: string[]): void {
  for (const l of labels) {
    const key = (l.includes('=') ? l.slice(0, l.indexOf('=')) : l).replace(/^[ \t]+/, '');
    const bad = key === '' ? `invalid label '${l}': empty name` : /[ \t]/.test(key) ? `label '${key}' contains whitespaces` : undefined;
    if (bad) throw flagError('create', '[OPTIONS] [VOLUME]', `invalid argument ${quote(l)} for "--label" flag: ${bad}`);
  }
}

/** `k=v` flags as a map (a bare `k` is `k=""`), or nothing when none were given (omitempty). */
function toMap(list: string[]): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  return Object.fromEntries(list.map((kv) => (kv.includes('=') ? [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] : [kv, ''])));
}

/** The body of POST /volumes/create for `volume create` (VolumeCreateOptions, without docker's empty fields). */
export function volumeCreateBody(positional: string | undefined, o: { name?: string; driver: string; label: string[]; opt: string[] }) {
  checkLabels(o.label);
  if (positional !== undefined && o.name !== undefined && o.name !== '') {
    throw new CliError('conflicting options: cannot specify a volume-name through both --name and as a positional arg');
  }
  const name = positional ?? o.name ?? '';
  const driverOpts = toMap(o.opt);
  const labels = toMap(o.label);
  return {
    ...(o.driver !== '' && { Driver: o.driver }),
    ...(driverOpts && { DriverOpts: driverOpts }),
    ...(labels && { Labels: labels }),
    ...(name !== '' && { Name: name }),
  };
}

/** The filters of POST /volumes/prune: `--filter`s, and `all=true` for `-a` (which must not be given both ways). */
export function volumePruneFilters(filter: string[], all: boolean): string | undefined {
  const filters = volumeFilters('prune', '--filter', filter);
  if (all) {
    if ('all' in filters) throw new CliError('conflicting options: cannot specify both --all and --filter all=1');
    filters['all'] = ['true'];
  }
  return filtersParam(filters);
}

/** `volume inspect`: docker's volume inspect re-encodes the Volume it decoded, and has no raw JSON to fall back on. */
async function inspectVolumes(cli: Cli, names: string[], format: string): Promise<void> {
  // the template engine only for a --format template
  const templates = format === '' || format === 'json' ? undefined : await import('./templates.js');
  const tmpl = templates?.inspectTemplate(format);
  const found: object[] = [];
  const errors: string[] = [];
  let text = '';
  for (const name of names) {
    let volume: object;
    try {
      volume = goVolume(await cli.client().json<Volume>('GET', `/volumes/${encodeURIComponent(name)}`));
    } catch (e) {
      if (e instanceof ConnectError) throw e;
      errors.push(describeError(e));
      continue;
    }
    if (!tmpl) {
      found.push(volume);
      continue;
    }
    try {
      text += `${tmpl.execute(volume)}\n`;
    } catch (e) {
      // docker drops what the template wrote before failing
      if (!templates || !(e instanceof templates.TemplateError)) throw e;
      errors.push(e.message);
    }
  }
  if (tmpl) process.stdout.write(text || '\n');
  else if (format === 'json') cli.out(goJSON(found, { escapeHTML: true }));
  else cli.out(goIndentedJSON(found));
  if (errors.length) throw new CliError(errors.join('\n'));
}

export function registerVolumeCommands(volume: Command, cli: Cli): void {
  volume
    .command('create')
    .description('Create a volume')
    .argument('[VOLUME...]')
    .option('-d, --driver <string>', 'Specify volume driver name', 'local')
    .option('--label <list>', 'Set metadata for a volume', collect, [])
    .option('--name <string>', 'Specify volume name')
    .option('-o, --opt <map>', 'Set driver specific options', collect, [])
    .action(async (args: string[], o: { name?: string; driver: string; label: string[]; opt: string[] }) => {
      checkArgs('create', '[OPTIONS] [VOLUME]', args, 'max1');
      const body = volumeCreateBody(args[0], o);
      const v = await cli.client().json<Volume>('POST', '/volumes/create', { body });
      cli.out(v.Name);
    });

  volume
    .command('ls')
    .alias('list')
    .description('List volumes')
    .argument('[ARG...]')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "dangling=true")', collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('-q, --quiet', 'Only display volume names')
    .action((args: string[], o: VolumeListOptions) => listVolumes(cli, args, o));

  volume
    .command('inspect')
    .description('Display detailed information on one or more volumes')
    .argument('[VOLUME...]')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action(async (names: string[], o: { format?: string }) => {
      checkArgs('inspect', '[OPTIONS] VOLUME [VOLUME...]', names, 'min1');
      await inspectVolumes(cli, names, o.format ?? '');
    });

  volume
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes. You cannot remove a volume that is in use by a container.')
    .argument('[VOLUME...]')
    .option('-f, --force', 'Force the removal of one or more volumes')
    .action(async (names: string[], o: { force?: boolean }) => {
      checkArgs('rm', '[OPTIONS] VOLUME [VOLUME...]', names, 'min1');
      // as docker: each removed name printed as it goes, the failures joined at the end
      const errors: string[] = [];
      for (const name of names) {
        try {
          await cli.client().do('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: !!o.force } });
          cli.out(name);
        } catch (e) {
          if (e instanceof ConnectError) throw e;
          if (!(e instanceof ApiError)) throw e;
          errors.push(describeError(e));
        }
      }
      if (errors.length) throw new CliError(errors.join('\n'));
    });

  volume
    .command('prune')
    .description('Remove unused local volumes')
    .argument('[ARG...]')
    .option('-a, --all', 'Remove all unused volumes, not just anonymous ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "label=<label>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (args: string[], o: { all?: boolean; filter: string[]; force?: boolean }) => {
      checkArgs('prune', '[OPTIONS]', args, 'none');
      const filters = volumePruneFilters(o.filter, !!o.all);
      const warning = o.all ? 'WARNING! This will remove all local volumes not used by at least one container.' : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
      // a "no" cancels quietly, exit 0, as docker's cancelled prune
      if (!o.force && !(await confirm(cli, warning))) return;
      const r = await cli.client().json<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/volumes/prune', { query: { filters } });
      let out = '';
      // docker prints the list with a newline after each name, and then one more
      if (r.VolumesDeleted?.length) out += `Deleted Volumes:\n${r.VolumesDeleted.map((n) => `${n}\n`).join('')}\n`;
      process.stdout.write(`${out}Total reclaimed space: ${humanSize4(r.SpaceReclaimed ?? 0)}\n`);
    });
}
