import { createReadStream, createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { pipeline } from 'node:stream/promises';
import { type Cli, CliError, forEachName } from '../context.js';
import { printRows } from '../list.js';
import { goTime, humanSize, timeAgo } from '../format/units.js';
import { collect, confirm, filtersQuery, inspectNames, splitRepoTag } from './common.js';

interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  Containers: number;
  Labels: Record<string, string> | null;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** One row per (image, tag), as `docker images` prints them; untagged images get `<none>`. */
function imageRows(images: ImageSummary[], noTrunc: boolean, digests: boolean) {
  const rows: Array<Record<string, unknown>> = [];
  for (const img of images) {
    const tags = img.RepoTags?.length ? img.RepoTags : ['<none>:<none>'];
    const digestsByRepo = new Map((img.RepoDigests ?? []).map((d) => [d.slice(0, d.indexOf('@')), d.slice(d.indexOf('@') + 1)]));
    for (const t of tags) {
      const i = t.lastIndexOf(':');
      const repo = t.slice(0, i);
      rows.push({
        ID: noTrunc ? img.Id : short(img.Id),
        Repository: repo,
        Tag: t.slice(i + 1),
        Digest: (digests ? digestsByRepo.get(repo) : undefined) ?? '<none>',
        CreatedSince: timeAgo(new Date(img.Created * 1000)),
        CreatedAt: goTime(new Date(img.Created * 1000)),
        Size: humanSize(img.Size),
        VirtualSize: humanSize(img.Size),
        SharedSize: img.SharedSize < 0 ? 'N/A' : humanSize(img.SharedSize),
        UniqueSize: img.SharedSize < 0 ? 'N/A' : humanSize(img.Size - img.SharedSize),
        Containers: img.Containers < 0 ? 'N/A' : String(img.Containers),
      });
    }
  }
  return rows;
}

export interface ImagesOptions {
  all?: boolean;
  digests?: boolean;
  filter: string[];
  format?: string;
  trunc: boolean;
  quiet?: boolean;
}

/** `images`: the daemon's list as docker's image table. */
export async function listImages(cli: Cli, ref: string | undefined, o: ImagesOptions): Promise<void> {
  const filters = [...o.filter, ...(ref ? [`reference=${ref}`] : [])];
  const images = await cli.client().json<ImageSummary[]>('GET', '/images/json', { query: { all: o.all, filters: filtersQuery(filters) } });
  const digests = !!o.digests || !!o.format?.includes('.Digest');
  const rows = imageRows(images, !o.trunc, digests);
  await printRows(cli, rows, {
    format: o.format,
    quiet: o.quiet,
    quietField: 'ID',
    defaultTable: o.digests
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
    headers: { ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE' },
  });
}

export function registerImageCommands(program: Command, image: Command, cli: Cli): void {
  const ls = (cmd: Command) =>
    cmd
      .argument('[REPOSITORY[:TAG]]')
      .option('-a, --all', 'Show all images (default hides intermediate images)')
      .option('--digests', 'Show digests')
      .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
      .option('--format <string>', 'Format output using a custom template')
      .option('--no-trunc', "Don't truncate output")
      .option('-q, --quiet', 'Only show image IDs')
      .action((ref: string | undefined, o: ImagesOptions) => listImages(cli, ref, o));
  ls(program.command('images').description('List images'));
  ls(image.command('ls').alias('list').description('List images'));

  const inspect = (cmd: Command) =>
    cmd
      .argument('<IMAGE...>')
      .option('-f, --format <string>', 'Format output using a custom template')
      .action((names: string[], o: { format?: string }) => inspectNames(cli, names, ['image'], o));
  inspect(image.command('inspect').description('Display detailed information on one or more images'));

  const history = (cmd: Command) =>
    cmd
      .argument('<IMAGE>')
      .option('--format <string>', 'Format output using a custom template')
      .option('-H, --human', 'Print sizes and dates in human readable format', true)
      .option('--no-human', 'Print sizes and dates as raw numbers')
      .option('--no-trunc', "Don't truncate output")
      .option('-q, --quiet', 'Only show image IDs')
      .action(async (name: string, o: { format?: string; human: boolean; trunc: boolean; quiet?: boolean }) => {
        type Item = { Id: string; Created: number; CreatedBy: string; Size: number; Comment: string; Tags: string[] | null };
        const items = await cli.client().json<Item[]>('GET', `/images/${encodeURIComponent(name)}/history`);
        const rows = items.map((h) => {
          const createdBy = h.CreatedBy.replace(/\t/g, ' ');
          return {
            ID: h.Id === '<missing>' || !o.trunc ? h.Id : short(h.Id),
            CreatedSince: o.human ? timeAgo(new Date(h.Created * 1000)) : goTime(new Date(h.Created * 1000)),
            CreatedAt: goTime(new Date(h.Created * 1000)),
            CreatedBy: o.trunc && createdBy.length > 45 ? createdBy.slice(0, 44) + '…' : createdBy,
            Size: o.human ? humanSize(h.Size) : String(h.Size),
            Comment: h.Comment,
          };
        });
        await printRows(cli, rows, {
          format: o.format,
          quiet: o.quiet,
          quietField: 'ID',
          defaultTable: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
          headers: { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY' },
        });
      });
  history(program.command('history').description('Show the history of an image'));
  history(image.command('history').description('Show the history of an image'));

  const tag = (cmd: Command) =>
    cmd.argument('<SOURCE_IMAGE[:TAG]>').argument('<TARGET_IMAGE[:TAG]>').action(async (source: string, target: string) => {
      const { repo, tag } = splitRepoTag(target);
      await cli.client().do('POST', `/images/${encodeURIComponent(source)}/tag`, { query: { repo, tag } });
    });
  tag(program.command('tag').description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'));
  tag(image.command('tag').description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'));

  const rm = (cmd: Command) =>
    cmd
      .argument('<IMAGE...>')
      .option('-f, --force', 'Force removal of the image')
      .option('--no-prune', 'Do not delete untagged parents')
      .action(async (names: string[], o: { force?: boolean; prune: boolean }) => {
        await forEachName(cli, names, async (n) => {
          const items = await cli.client().json<Array<{ Untagged?: string; Deleted?: string }>>('DELETE', `/images/${encodeURIComponent(n)}`, {
            query: { force: o.force, noprune: !o.prune },
          });
          for (const i of items) cli.out(i.Untagged ? `Untagged: ${i.Untagged}` : `Deleted: ${i.Deleted}`);
        });
      });
  rm(program.command('rmi').description('Remove one or more images'));
  rm(image.command('rm').alias('remove').description('Remove one or more images'));

  image
    .command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { all?: boolean; filter: string[]; force?: boolean }) => {
      const warning = o.all
        ? 'WARNING! This will remove all images without at least one container associated to them.'
        : 'WARNING! This will remove all dangling images.';
      if (!o.force && !(await confirm(cli, warning))) return;
      const filters = [...o.filter, ...(o.all ? ['dangling=false'] : ['dangling=true'])];
      const r = await cli.client().json<{ ImagesDeleted: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed: number }>(
        'POST',
        '/images/prune',
        { query: { filters: filtersQuery(filters) } },
      );
      if (r.ImagesDeleted?.length) {
        cli.out('Deleted Images:');
        for (const i of r.ImagesDeleted) cli.out(i.Untagged ? `untagged: ${i.Untagged}` : `deleted: ${i.Deleted}`);
        cli.out('');
      }
      cli.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
    });

  const importCmd = (cmd: Command) =>
    cmd
      .argument('<file|URL|->')
      .argument('[REPOSITORY[:TAG]]')
      .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image', collect, [])
      .option('-m, --message <string>', 'Set commit message for imported image')
      .option('--platform <string>', 'Set platform if server is multi-platform capable')
      .action(async (source: string, ref: string | undefined, o: { change: string[]; message?: string }) => {
        const isUrl = /^https?:\/\//.test(source);
        const { repo, tag } = ref ? splitRepoTag(ref) : { repo: undefined, tag: undefined };
        const body = isUrl ? undefined : source === '-' ? process.stdin : createReadStream(source);
        const res = await cli.client().call('POST', '/images/create', {
          query: { fromSrc: isUrl ? source : '-', repo, tag, message: o.message, changes: o.change },
          body,
          headers: { 'Content-Type': 'application/x-tar' },
        });
        await printMessages(cli, res);
      });
  importCmd(program.command('import').description('Import the contents from a tarball to create a filesystem image'));
  importCmd(image.command('import').description('Import the contents from a tarball to create a filesystem image'));

  const save = (cmd: Command) =>
    cmd
      .argument('<IMAGE...>')
      .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
      .action(async (names: string[], o: { output?: string }) => {
        if (!o.output && process.stdout.isTTY) {
          throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        }
        const res = await cli.client().call('GET', '/images/get', { query: { names } });
        if (!o.output) return pipeline(res, process.stdout);
        const tmp = `${o.output}.berth-tmp`;
        await pipeline(res, createWriteStream(tmp));
        const { rename } = await import('node:fs/promises');
        await rename(tmp, o.output);
      });
  save(program.command('save').description('Save one or more images to a tar archive (streamed to STDOUT by default)'));
  save(image.command('save').description('Save one or more images to a tar archive (streamed to STDOUT by default)'));

  const load = (cmd: Command) =>
    cmd
      .option('-i, --input <file>', 'Read from tar archive file, instead of STDIN')
      .option('-q, --quiet', 'Suppress the load output')
      .action(async (o: { input?: string; quiet?: boolean }) => {
        if (!o.input && process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty');
        const res = await cli.client().call('POST', '/images/load', {
          query: { quiet: o.quiet },
          body: o.input ? createReadStream(o.input) : process.stdin,
          headers: { 'Content-Type': 'application/x-tar' },
        });
        await printMessages(cli, res);
      });
  load(program.command('load').description('Load an image from a tar archive or STDIN'));
  load(image.command('load').description('Load an image from a tar archive or STDIN'));
}

/** Prints a JSON message stream (load, import): `stream` text as is, `status` lines, and fails on `error`. */
async function printMessages(cli: Cli, res: import('node:http').IncomingMessage): Promise<void> {
  let error: string | undefined;
  await cli.client().messages(res, (m) => {
    if (typeof m['error'] === 'string') error = m['error'];
    else if (typeof m['stream'] === 'string') process.stdout.write(m['stream']);
    else if (typeof m['status'] === 'string') cli.out(m['status']);
  });
  if (error) throw new CliError(error);
}
