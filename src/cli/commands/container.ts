import type { Command } from 'commander';
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Socket } from 'node:net';
import { ApiError, readAll } from '../../client/index.js';
import { type Cli, CliError, ExitCode, describeError, forEachName } from '../context.js';
import { quote } from '../format/gofmt.js';
import { tabulate } from '../format/tabwriter.js';
import { humanSize } from '../format/units.js';
import { type Reference, familiarString, parseReference, repositoryName, withDefaultTag } from '../../oci/reference.js';
import { collect, confirm, filtersQuery, inspectNames } from './common.js';
import { checkTty, holdSession, proxySignals, sendTerminalSize } from './interactive.js';
import { joinHostPort } from './ps.js';
import { type LogsOptions, onEachContainer, showLogs } from './container-ops.js';
import { naturalLess } from '../format/natural.js';
import { FlagError, type ResourceFlags, type RunFlags, createBody, localhostDNSWarning, resourcesBody, withCreateFlags, withResourceFlags } from './run-flags.js';

export { naturalLess }; // where the tests and older callers find it

/** docker's `<command> --help` hint after an error in flags or in `run`: `berth: <message>` and the hint. */
function withHelp(message: string, command: string): string {
  return `berth: ${message}\n\nRun 'berth ${command} --help' for more information`;
}

/** An error as docker's CLI prints it bare (daemon errors say so; ours carry their own words). */
function errorText(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * docker's toStatusError for `run`: the error with the help hint, and the exit code 127 when the command was not
 * found, 126 when it could not be executed, else 125.
 */
function runFailure(e: unknown): CliError {
  const message = errorText(e);
  let code: number = ExitCode.Usage;
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) code = 127;
  else if (/permission denied|is a directory/.test(message)) code = 126;
  return new CliError(withHelp(message, 'run'), code);
}

/**
 * `run`/`create` flags checked and turned into the create body before asking the daemon, as docker's parse does:
 * a failure is a usage error (exit 125, with the help hint).
 */
function parseCreateFlags(image: string, cmd: string[], o: RunFlags, command: string): ReturnType<typeof createBody> {
  const usage = (message: string) => new CliError(withHelp(message, command), ExitCode.Usage);
  if (!['always', 'missing', 'never', ''].includes(o.pull)) {
    throw usage(`invalid pull option: '${o.pull}': must be one of "always", "missing" or "never"`);
  }
  if (o.rm && o.restart && o.restart.Name !== 'no' && o.restart.Name !== '') {
    throw usage('conflicting options: cannot specify both --restart and --rm');
  }
  try {
    return createBody(image, cmd, o);
  } catch (e) {
    if (e instanceof FlagError) throw new CliError(`${e.message}\n\nUsage:  berth ${command} [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth ${command} --help' for more information`, ExitCode.Usage);
    throw usage(e instanceof Error ? e.message : String(e));
  }
}


/** strconv.ParseUint(s, 10, 16)'s errors. */
function portError(port: string): string | undefined {
  if (!/^\d+$/.test(port)) return `strconv.ParseUint: parsing ${quote(port)}: invalid syntax`;
  if (Number(port) > 65535) return `strconv.ParseUint: parsing ${quote(port)}: value out of range`;
  return undefined;
}

/**
 * `run` and `create`, registered apart from the other container commands: their two hundred options are most of
 * the container commands' set-up, which `stop`, `rm` or `logs` need not pay.
 */
export function registerRunCommands(program: Command, container: Command, cli: Cli): void {

  /** `POST /images/create` for a missing image, its progress on stderr as docker shows it. */
  const pull = async (ref: Reference, quiet = false): Promise<void> => {
    const res = await cli.client().call('POST', '/images/create', { query: { fromImage: repositoryName(ref), tag: ref.digest ?? ref.tag } });
    let error: string | undefined;
    await cli.client().messages(res, (m) => {
      const detail = m['errorDetail'] as { message?: string } | undefined;
      if (typeof m['error'] === 'string' || detail?.message) error ??= detail?.message ?? String(m['error']);
      else if (quiet) return;
      else if (typeof m['stream'] === 'string') process.stderr.write(m['stream']);
      else if (typeof m['status'] === 'string') cli.err(`${typeof m['id'] === 'string' && m['id'] ? `${m['id']}: ` : ''}${m['status']}`);
    });
    if (error !== undefined) throw new CliError(error);
  };

  /**
   * docker's createContainer: the image reference checked first; with `--pull missing` (the default) an image the
   * daemon does not have is pulled ("Unable to find image 'busybox:latest' locally") and the create tried again.
   */
  const create = async (image: string, body: ReturnType<typeof createBody>, o: RunFlags): Promise<string> => {
    // An image ID is not a name: nothing to pull for it (reference.ParseAnyReference).
    let named: Reference | undefined;
    try {
      named = /^(sha256:)?[a-f0-9]{64}$/.test(image) ? undefined : withDefaultTag(parseReference(image));
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    // As docker: an existing ID file means another container may be using it; checked before anything is made.
    if (o.cidfile && existsSync(o.cidfile)) throw new CliError(`Container ID file found, make sure the other container isn't running or delete ${o.cidfile}`);
    if (named && o.pull === 'always') await pull(named, o.quiet);
    const post = () => cli.client().json<{ Id: string; Warnings: string[] | null }>('POST', '/containers/create', { query: { name: o.name, platform: o.platform }, body });
    let r: { Id: string; Warnings: string[] | null };
    try {
      r = await post();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404 && e.message.includes('No such image') && named && o.pull === 'missing')) throw e;
      cli.err(`Unable to find image '${familiarString(named)}' locally`);
      await pull(named, o.quiet);
      r = await post();
    }
    for (const w of [...(r.Warnings ?? []), ...localhostDNSWarning(body.HostConfig)]) cli.err(`WARNING: ${w}`);
    if (o.cidfile) writeFileSync(o.cidfile, r.Id);
    return r.Id;
  };

  const run = (cmd: Command) =>
    withCreateFlags(cmd)
      .option('-d, --detach', 'Run container in background and print container ID')
      .option('--no-sig-proxy', 'Do not proxy received signals to the process')
      .action(async (image: string, args: string[], o: RunFlags & { sigProxy?: boolean }) => {
        const createRequest = parseCreateFlags(image, args, o, 'run');
        if (!o.detach) checkTty(o);
        let id: string;
        try {
          id = await create(image, createRequest, o);
        } catch (e) {
          throw runFailure(e);
        }
        if (o.detach) {
          cli.out(id);
          await startOrFail(cli, id);
          return;
        }
        await attachAndStart(cli, id, {
          tty: !!o.tty,
          stdin: createRequest.AttachStdin,
          stdout: createRequest.AttachStdout,
          stderr: createRequest.AttachStderr,
          removed: !!o.rm,
          sigProxy: o.sigProxy !== false,
          ...(o.detachKeys && { detachKeys: o.detachKeys }),
        });
      });
  run(program.command('run').description('Create and run a new container from an image'));
  run(container.command('run').description('Create and run a new container from an image'));

  const createCmd = (cmd: Command) =>
    withCreateFlags(cmd).action(async (image: string, args: string[], o: RunFlags) => {
      cli.out(await create(image, parseCreateFlags(image, args, o, 'create'), o));
    });
  createCmd(program.command('create').description('Create a new container'));
  createCmd(container.command('create').description('Create a new container'));
}

export function registerContainerCommands(program: Command, container: Command, cli: Cli): void {
  const eachContainer = (names: string[], method: string, action: string, query: Record<string, string | boolean | undefined> = {}) =>
    onEachContainer(cli, names, method, action, query);

  /**
   * Each container started in turn, failures printed as they come and named together at the end, as docker does;
   * with -a, one container attached to (and its stdin with -i) until it exits, with its exit code.
   */
  const start = (cmd: Command) =>
    cmd
      .argument('<CONTAINER...>')
      .option('-a, --attach', 'Attach STDOUT/STDERR and forward signals')
      .option('-i, --interactive', "Attach container's STDIN")
      .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
      .action(async (names: string[], o: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
        if (o.attach || o.interactive) {
          if (names.length > 1) throw new CliError('you cannot start and attach multiple containers at once');
          const c = await cli.client().json<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean } }>('GET', `/containers/${encodeURIComponent(names[0] ?? '')}/json`);
          const stdin = !!o.interactive && c.Config.OpenStdin;
          checkTty({ tty: c.Config.Tty, interactive: stdin });
          await attachAndStart(cli, c.Id, { tty: c.Config.Tty, stdin, stdout: true, stderr: true, removed: false, sigProxy: true, ...(o.detachKeys && { detachKeys: o.detachKeys }) });
          return;
        }
        const failed: string[] = [];
        for (const n of names) {
          try {
            await cli.client().do('POST', `/containers/${encodeURIComponent(n)}/start`);
            cli.out(n);
          } catch (e) {
            cli.err(describeError(e));
            failed.push(n);
          }
        }
        if (failed.length) throw new CliError(`Error: failed to start containers: ${failed.join(', ')}`);
      });
  start(program.command('start').description('Start one or more stopped containers'));
  start(container.command('start').description('Start one or more stopped containers'));

  const logs = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .option('-f, --follow', 'Follow log output')
      .option('-n, --tail <string>', 'Number of lines to show from the end of the logs', 'all')
      .option('-t, --timestamps', 'Show timestamps')
      .option('--since <string>', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
      .option('--until <string>', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)')
      .option('--details', 'Show extra details provided to logs')
      .action((name: string, o: LogsOptions) => showLogs(cli, name, o));
  logs(program.command('logs').description('Fetch the logs of a container'));
  logs(container.command('logs').description('Fetch the logs of a container'));

  const rm = (cmd: Command) =>
    cmd
      .argument('<CONTAINER...>')
      .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
      .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
      .action((names: string[], o: { force?: boolean; volumes?: boolean }) => eachContainer(names, 'DELETE', '', { force: o.force, v: o.volumes }));
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
      .action(async (name: string, newName: string) => {
        const from = name.trim();
        const to = newName.trim();
        if (from === '' || to === '') throw new CliError('Error: Neither old nor new names may be empty');
        try {
          await cli.client().do('POST', `/containers/${encodeURIComponent(from)}/rename`, { query: { name: to } });
        } catch (e) {
          cli.err(describeError(e));
          throw new CliError(`Error: failed to rename container named ${from}`);
        }
      });
  rename(program.command('rename').description('Rename a container'));
  rename(container.command('rename').description('Rename a container'));

  for (const action of ['pause', 'unpause'] as const) {
    const cmd = (c: Command) => c.argument('<CONTAINER...>').action((names: string[]) => eachContainer(names, 'POST', `/${action}`));
    const what = action === 'pause' ? 'Pause all processes within one or more containers' : 'Unpause all processes within one or more containers';
    cmd(program.command(action).description(what));
    cmd(container.command(action).description(what));
  }

  /** `port`: the published ports from inspect's NetworkSettings.Ports, or where one private port is published. */
  const port = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .argument('[PRIVATE_PORT[/PROTO]]')
      .action(async (name: string, spec: string | undefined) => {
        type Bindings = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;
        const c = await cli.client().json<{ NetworkSettings?: { Ports?: Bindings | null } | null }>('GET', `/containers/${encodeURIComponent(name)}/json`);
        const ports = c.NetworkSettings?.Ports ?? {};
        const out: string[] = [];
        if (spec) {
          const slash = spec.indexOf('/');
          const number = slash < 0 ? spec : spec.slice(0, slash);
          const proto = (slash < 0 ? '' : spec.slice(slash + 1)) || 'tcp';
          const invalid = portError(number);
          if (invalid) throw new CliError(`Error: invalid port (${number}): ${invalid}`);
          const frontends = ports[`${number}/${proto}`] ?? [];
          if (frontends.length === 0) throw new CliError(`Error: No public port '${spec}' published for ${name}`);
          for (const f of frontends) out.push(joinHostPort(f.HostIp ?? '', f.HostPort ?? ''));
        } else {
          for (const [from, frontends] of Object.entries(ports)) {
            for (const f of frontends ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp ?? '', f.HostPort ?? '')}`);
          }
        }
        out.sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
        if (out.length) cli.out(out.join('\n'));
      });
  port(program.command('port').description('List port mappings or a specific mapping for the container'));
  port(container.command('port').description('List port mappings or a specific mapping for the container'));

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
    .option('-s, --size', 'Display total file sizes')
    .action((names: string[], o: { format?: string; size?: boolean }) => inspectNames(cli, names, ['container'], o));
}

/**
 * docker's attached run (and `start -a`): attach before starting, so no output is missed; wait for the exit (or
 * the removal, for --rm) concurrently; forward signals without a TTY; exit with the container's code.
 */
export async function attachAndStart(
  cli: Cli,
  id: string,
  o: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean; removed: boolean; sigProxy: boolean; detachKeys?: string },
): Promise<void> {
  const socket: Socket = await cli.client().hijack('POST', `/containers/${id}/attach`, {
    query: { stream: true, stdout: o.stdout, stderr: o.stderr, stdin: o.stdin, detachKeys: o.detachKeys },
  });
  const resize = (h: number, w: number) => cli.client().do('POST', `/containers/${id}/resize`, { query: { h: String(h), w: String(w) } });
  const output = holdSession(socket, { tty: o.tty, stdin: o.stdin, resize, ...(o.detachKeys && { detachKeys: o.detachKeys }) });
  const waitRes = await cli.client().call('POST', `/containers/${id}/wait`, { query: { condition: o.removed ? 'removed' : 'next-exit' } });
  // Without a TTY, the signals this process gets go to the container (a TTY passes ctrl-c itself). Forwarding
  // begins before the start, as docker's does: the container's first output can arrive before the start's reply.
  const unproxy = !o.tty && o.sigProxy ? proxySignals(cli, id) : () => {};
  try {
    await startOrFail(cli, id);
  } catch (e) {
    unproxy();
    output.catch(() => {}); // the attach ends with the failed start; its error is not the one to report
    socket.destroy();
    waitRes.destroy();
    throw e;
  }
  if (o.tty) await sendTerminalSize(resize);
  const detached = await output.then((r) => r.detached).finally(unproxy);
  if (detached) {
    waitRes.destroy();
    return;
  }
  const body = JSON.parse(await readAll(waitRes)) as { StatusCode: number };
  if (body.StatusCode !== 0) throw new CliError('', body.StatusCode);
}

async function startOrFail(cli: Cli, id: string): Promise<void> {
  try {
    await cli.client().do('POST', `/containers/${id}/start`);
  } catch (e) {
    throw runFailure(e);
  }
}
