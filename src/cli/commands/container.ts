import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Socket } from 'node:net';
import { ApiError } from '../../client/index.js';
import { type Cli, CliError, ExitCode, forEachName } from '../context.js';
import { tabulate } from '../format/tabwriter.js';
import { humanSize, timeAgo } from '../format/units.js';
import { parseTimeFilter } from '../../util/timestamp.js';
import { printList, goTime } from '../output.js';
import { collect, confirm, filtersQuery, inspectNames } from './common.js';
import { checkTty, demux, holdSession, sendTerminalSize } from './interactive.js';
import { type ResourceFlags, type RunFlags, createBody, resourcesBody, withCreateFlags, withResourceFlags } from './run-flags.js';

interface Summary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Labels: Record<string, string> | null;
  SizeRw?: number;
  SizeRootFs?: number;
}

/**
 * `--since`/`--until` as the API takes them, Unix seconds with nine fractional digits: from a duration before now
 * ("10m", "1h30m"), an RFC 3339 time, or Unix seconds (passed on as given).
 */
function apiTimestamp(value: string | undefined, flag: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  // RFC 3339 keeps its nanoseconds (a Date would round them to milliseconds, and miss an entry's exact time).
  const rfc = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$/.exec(value);
  const wholeSeconds = rfc ? Date.parse(`${rfc[1]}${rfc[3] ?? ''}`) / 1000 : NaN;
  if (!Number.isNaN(wholeSeconds)) return `${wholeSeconds}.${(rfc?.[2] ?? '').padEnd(9, '0')}`;
  let ms: number;
  try {
    ms = parseTimeFilter(value);
  } catch {
    throw new CliError(`invalid value for "${flag}": failed to parse value as time or duration: "${value}"`);
  }
  const seconds = Math.floor(ms / 1000);
  return `${seconds}.${String(Math.round((ms - seconds * 1000) * 1e6)).padStart(9, '0')}`;
}

/** docker's mapping of start failures to exit codes: 127 command not found, 126 cannot execute, else 125. */
function startFailureCode(message: string): number {
  if (/executable file not found|no such file or directory/.test(message)) return 127;
  if (/permission denied/.test(message)) return 126;
  return ExitCode.Usage;
}

export function registerContainerCommands(program: Command, container: Command, cli: Cli): void {
  /** `start`/`stop`/`kill`/`rm`: one request per container, its name echoed on success, like docker. */
  const eachContainer = (names: string[], method: string, action: string, query: Record<string, string | boolean | undefined> = {}) =>
    forEachName(cli, names, async (n) => {
      await cli.client().do(method, `/containers/${encodeURIComponent(n)}${action}`, { query });
      cli.out(n);
    });

  const create = async (image: string, cmd: string[], o: RunFlags): Promise<string> => {
    try {
      const r = await cli.client().json<{ Id: string; Warnings: string[] | null }>('POST', '/containers/create', { query: { name: o.name }, body: createBody(image, cmd, o) });
      for (const w of r.Warnings ?? []) cli.err(`WARNING: ${w}`);
      return r.Id;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && /No such image/.test(e.message)) {
        cli.err(`Unable to find image '${image}' locally`);
      }
      throw e instanceof ApiError ? new CliError(`docker: Error response from daemon: ${e.message}`.replace(/^docker/, 'berth'), ExitCode.Usage) : e;
    }
  };

  const run = (cmd: Command) =>
    withCreateFlags(cmd)
      .option('-d, --detach', 'Run container in background and print container ID')
      .action(async (image: string, args: string[], o: RunFlags) => {
        if (!o.detach) checkTty(o);
        const id = await create(image, args, o);
        if (o.detach) {
          await startOrFail(cli, id);
          cli.out(id);
          return;
        }
        const socket: Socket = await cli.client().hijack('POST', `/containers/${id}/attach`, {
          query: { stream: true, stdout: true, stderr: true, stdin: o.interactive, detachKeys: o.detachKeys },
        });
        const resize = (h: number, w: number) => cli.client().do('POST', `/containers/${id}/resize`, { query: { h: String(h), w: String(w) } });
        const output = holdSession(socket, { tty: !!o.tty, stdin: !!o.interactive, resize, ...(o.detachKeys && { detachKeys: o.detachKeys }) });
        const waitRes = await cli.client().call('POST', `/containers/${id}/wait`, { query: { condition: o.rm ? 'removed' : 'next-exit' } });
        try {
          await startOrFail(cli, id);
        } catch (e) {
          output.catch(() => {}); // the attach ends with the failed start; its error is not the one to report
          socket.destroy();
          waitRes.destroy();
          throw e;
        }
        if (o.tty) await sendTerminalSize(resize);
        if ((await output).detached) {
          waitRes.destroy();
          return;
        }
        const body = JSON.parse(await (await import('../../client/index.js')).readAll(waitRes)) as { StatusCode: number };
        if (body.StatusCode !== 0) throw new CliError('', body.StatusCode);
      });
  run(program.command('run').description('Create and run a new container from an image'));
  run(container.command('run').description('Create and run a new container from an image'));

  const createCmd = (cmd: Command) =>
    withCreateFlags(cmd).action(async (image: string, args: string[], o: RunFlags) => {
      cli.out(await create(image, args, o));
    });
  createCmd(program.command('create').description('Create a new container'));
  createCmd(container.command('create').description('Create a new container'));

  const start = (cmd: Command) =>
    cmd.argument('<CONTAINER...>').action((names: string[]) => eachContainer(names, 'POST', '/start'));
  start(program.command('start').description('Start one or more stopped containers'));
  start(container.command('start').description('Start one or more stopped containers'));

  const ps = (cmd: Command) =>
    cmd
      .option('-a, --all', 'Show all containers (default shows just running)')
      .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect, [])
      .option('-n, --last <int>', 'Show n last created containers (includes all states)')
      .option('-l, --latest', 'Show the latest created container (includes all states)')
      .option('-q, --quiet', 'Only display container IDs')
      .option('-s, --size', 'Display total file sizes')
      .option('--no-trunc', "Don't truncate output")
      .option('--format <string>', 'Format output using a custom template')
      .action(async (o: { all?: boolean; filter: string[]; last?: string; latest?: boolean; quiet?: boolean; size?: boolean; trunc: boolean; format?: string }) => {
        const limit = o.latest ? 1 : o.last !== undefined ? Number(o.last) : undefined;
        const list = await cli.client().json<Summary[]>('GET', '/containers/json', {
          query: { all: o.all, size: o.size || /\.Size\b/.test(o.format ?? ''), filters: filtersQuery(o.filter), limit: limit !== undefined && limit > 0 ? String(limit) : undefined },
        });
        const rows = list.map((c) => ({
          ID: o.trunc ? c.Id.slice(0, 12) : c.Id,
          Image: c.Image,
          Command: `"${o.trunc && c.Command.length > 20 ? c.Command.slice(0, 19) + '…' : c.Command}"`,
          CreatedAt: goTime(new Date(c.Created * 1000)),
          RunningFor: timeAgo(new Date(c.Created * 1000)),
          Status: c.Status,
          State: c.State,
          Ports: '',
          Names: c.Names.map((n) => n.replace(/^\//, '')).join(','),
          Size: c.SizeRw === undefined ? '' : `${humanSize(c.SizeRw)} (virtual ${humanSize(c.SizeRootFs ?? 0)})`,
        }));
        printList(cli, rows, {
          format: o.format,
          quiet: o.quiet,
          quietField: 'ID',
          defaultTable: `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${o.size ? '\t{{.Size}}' : ''}`,
          headers: { ID: 'CONTAINER ID', RunningFor: 'CREATED', CreatedAt: 'CREATED AT' },
        });
      });
  ps(program.command('ps').description('List containers'));
  ps(container.command('ls').alias('list').alias('ps').description('List containers'));

  const logs = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .option('-f, --follow', 'Follow log output')
      .option('-n, --tail <string>', 'Number of lines to show from the end of the logs', 'all')
      .option('-t, --timestamps', 'Show timestamps')
      .option('--since <string>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
      .option('--until <string>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
      .option('--details', 'Show extra details provided to logs')
      .action(async (name: string, o: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }) => {
        const res = await cli.client().call('GET', `/containers/${encodeURIComponent(name)}/logs`, {
          query: { stdout: true, stderr: true, follow: o.follow, tail: o.tail, timestamps: o.timestamps, since: apiTimestamp(o.since, 'since'), until: apiTimestamp(o.until, 'until') },
        });
        // A TTY container's log is its raw output (the daemon says so), anything else comes in frames.
        if (String(res.headers['content-type']).includes('raw-stream')) await pipeline(res, process.stdout, { end: false });
        else await demux(res);
      });
  logs(program.command('logs').description('Fetch the logs of a container'));
  logs(container.command('logs').description('Fetch the logs of a container'));

  const rm = (cmd: Command) =>
    cmd
      .argument('<CONTAINER...>')
      .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
      .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
      .action((names: string[], o: { force?: boolean }) => eachContainer(names, 'DELETE', '', { force: o.force }));
  rm(program.command('rm').description('Remove one or more containers'));
  rm(container.command('rm').alias('remove').description('Remove one or more containers'));

  const stop = (cmd: Command) =>
    cmd
      .argument('<CONTAINER...>')
      .option('-s, --signal <string>', 'Signal to send to the container')
      .option('-t, --timeout <int>', 'Seconds to wait before killing the container')
      .action((names: string[], o: { signal?: string; timeout?: string }) => eachContainer(names, 'POST', '/stop', { t: o.timeout, signal: o.signal }));
  stop(program.command('stop').description('Stop one or more running containers'));
  stop(container.command('stop').description('Stop one or more running containers'));

  const kill = (cmd: Command) =>
    cmd
      .argument('<CONTAINER...>')
      .option('-s, --signal <string>', 'Signal to send to the container')
      .action((names: string[], o: { signal?: string }) => eachContainer(names, 'POST', '/kill', { signal: o.signal }));
  kill(program.command('kill').description('Kill one or more running containers'));
  kill(container.command('kill').description('Kill one or more running containers'));

  const restart = (cmd: Command) =>
    cmd
      .argument('<CONTAINER...>')
      .option('-s, --signal <string>', 'Signal to send to the container')
      .option('-t, --timeout <int>', 'Seconds to wait before killing the container')
      .action((names: string[], o: { signal?: string; timeout?: string }) => eachContainer(names, 'POST', '/restart', { t: o.timeout, signal: o.signal }));
  restart(program.command('restart').description('Restart one or more containers'));
  restart(container.command('restart').description('Restart one or more containers'));

  const update = (cmd: Command) =>
    withResourceFlags(cmd.argument('<CONTAINER...>')).action(async (names: string[], o: ResourceFlags) => {
      const body = resourcesBody(o);
      if (Object.keys(body).length === 0) throw new CliError('you must provide one or more flags when using this command', ExitCode.Failure);
      await forEachName(cli, names, async (n) => {
        const r = await cli.client().json<{ Warnings: string[] | null }>('POST', `/containers/${encodeURIComponent(n)}/update`, { body });
        for (const w of r.Warnings ?? []) cli.err(w);
        cli.out(n);
      });
    });
  update(program.command('update').description('Update configuration of one or more containers'));
  update(container.command('update').description('Update configuration of one or more containers'));

  const wait = (cmd: Command) =>
    cmd.argument('<CONTAINER...>').action(async (names: string[]) => {
      await forEachName(cli, names, async (n) => {
        const r = await cli.client().json<{ StatusCode: number }>('POST', `/containers/${encodeURIComponent(n)}/wait`);
        cli.out(String(r.StatusCode));
      });
    });
  wait(program.command('wait').description('Block until one or more containers stop, then print their exit codes'));
  wait(container.command('wait').description('Block until one or more containers stop, then print their exit codes'));

  const rename = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .argument('<NEW_NAME>')
      .action((name: string, newName: string) => cli.client().do('POST', `/containers/${encodeURIComponent(name)}/rename`, { query: { name: newName } }));
  rename(program.command('rename').description('Rename a container'));
  rename(container.command('rename').description('Rename a container'));

  for (const action of ['pause', 'unpause'] as const) {
    const cmd = (c: Command) => c.argument('<CONTAINER...>').action((names: string[]) => eachContainer(names, 'POST', `/${action}`));
    const what = action === 'pause' ? 'Pause all processes within one or more containers' : 'Unpause all processes within one or more containers';
    cmd(program.command(action).description(what));
    cmd(container.command(action).description(what));
  }

  const top = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .argument('[ps OPTIONS...]')
      .passThroughOptions()
      .action(async (name: string, psArgs: string[]) => {
        const r = await cli.client().json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${encodeURIComponent(name)}/top`, {
          query: { ps_args: psArgs.length ? psArgs.join(' ') : undefined },
        });
        process.stdout.write(tabulate([r.Titles, ...r.Processes].map((row) => row.join('\t') + '\n').join(''), 20)); // docker top's tabwriter: minwidth 20
      });
  top(program.command('top').description('Display the running processes of a container'));
  top(container.command('top').description('Display the running processes of a container'));

  const diff = (cmd: Command) =>
    cmd.argument('<CONTAINER>').action(async (name: string) => {
      const changes = await cli.client().json<Array<{ Path: string; Kind: number }>>('GET', `/containers/${encodeURIComponent(name)}/changes`);
      for (const ch of changes) cli.out(`${'CAD'[ch.Kind] ?? '?'} ${ch.Path}`);
    });
  diff(program.command('diff').description("Inspect changes to files or directories on a container's filesystem"));
  diff(container.command('diff').description("Inspect changes to files or directories on a container's filesystem"));

  const exportCmd = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
      .action(async (name: string, o: { output?: string }) => {
        if (!o.output && process.stdout.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
        const res = await cli.client().call('GET', `/containers/${encodeURIComponent(name)}/export`);
        await pipeline(res, o.output ? createWriteStream(o.output) : process.stdout);
      });
  exportCmd(program.command('export').description("Export a container's filesystem as a tar archive"));
  exportCmd(container.command('export').description("Export a container's filesystem as a tar archive"));

  container
    .command('prune')
    .description('Remove all stopped containers')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { filter: string[]; force?: boolean }) => {
      if (!o.force && !(await confirm(cli, 'WARNING! This will remove all stopped containers.'))) return;
      const r = await cli.client().json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/containers/prune', {
        query: { filters: filtersQuery(o.filter) },
      });
      if (r.ContainersDeleted?.length) cli.out(['Deleted Containers:', ...r.ContainersDeleted, ''].join('\n'));
      cli.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
    });

  container
    .command('inspect')
    .description('Display detailed information on one or more containers')
    .argument('<CONTAINER...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .action((names: string[], o: { format?: string }) => inspectNames(cli, names, ['containers'], o.format));
}

async function startOrFail(cli: Cli, id: string): Promise<void> {
  try {
    await cli.client().do('POST', `/containers/${id}/start`);
  } catch (e) {
    if (e instanceof ApiError) throw new CliError(`berth: Error response from daemon: ${e.message}`, startFailureCode(e.message));
    throw e;
  }
}
