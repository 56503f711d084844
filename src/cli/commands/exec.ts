// `exec` and `attach`: hijacked sessions with a running container.
import type { Command } from 'commander';
import { type Cli, CliError, ExitCode } from '../context.js';
import { collect } from './common.js';
import { checkTty, holdSession, proxySignals, sendTerminalSize, withStdioFlags } from './interactive.js';
import { ApiError } from '../../client/index.js';
import { envFile } from './env-file.js';

export interface ExecFlags {
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  detachKeys?: string;
  env: string[];
  envFile: string[];
  user?: string;
  workdir?: string;
  privileged?: boolean;
}

interface AttachFlags {
  stdin: boolean;
  detachKeys?: string;
  sigProxy: boolean;
}

export function registerExecCommands(program: Command, container: Command, cli: Cli): void {
  const exec = (cmd: Command) =>
    withStdioFlags(cmd.argument('<CONTAINER>').argument('<COMMAND...>'))
      .option('-d, --detach', 'Detached mode: run command in the background')
      .option('-e, --env <list>', 'Set environment variables', collect, [])
      .option('--env-file <list>', 'Read in a file of environment variables', collect, [])
      .option('-u, --user <string>', 'Username or UID (format: "<name|uid>[:<group|gid>]")')
      .option('-w, --workdir <string>', 'Working directory inside the container')
      .option('--privileged', 'Give extended privileges to the command')
      .passThroughOptions()
      .action((name: string, command: string[], o: ExecFlags) => execInContainer(cli, name, command, o));
  exec(program.command('exec').description('Execute a command in a running container'));
  exec(container.command('exec').description('Execute a command in a running container'));

  const attach = (cmd: Command) =>
    cmd
      .argument('<CONTAINER>')
      .option('--no-stdin', 'Do not attach STDIN')
      .option('--detach-keys <string>', 'Override the key sequence for detaching a container')
      .option('--no-sig-proxy', 'Do not proxy received signals to the process')
      .action(async (name: string, o: AttachFlags) => {
        const client = cli.client();
        const c = await client.json<{ Id: string; State: { Running: boolean; Paused: boolean }; Config: { Tty: boolean; OpenStdin: boolean } }>(
          'GET',
          `/containers/${encodeURIComponent(name)}/json`,
        );
        if (!c.State.Running) throw new CliError('You cannot attach to a stopped container, start it first', ExitCode.Failure);
        if (c.State.Paused) throw new CliError('You cannot attach to a paused container, unpause it first', ExitCode.Failure);
        const stdin = o.stdin && c.Config.OpenStdin;
        checkTty({ tty: c.Config.Tty, interactive: stdin });
        const socket = await client.hijack('POST', `/containers/${c.Id}/attach`, {
          query: { stream: true, stdout: true, stderr: true, stdin, detachKeys: o.detachKeys },
        });
        const resize = (h: number, w: number) => client.do('POST', `/containers/${c.Id}/resize`, { query: { h: String(h), w: String(w) } });
        const session = holdSession(socket, { tty: c.Config.Tty, stdin, resize, ...(o.detachKeys && { detachKeys: o.detachKeys }) });
        if (c.Config.Tty) await sendTerminalSize(resize);
        const unproxy = !c.Config.Tty && o.sigProxy !== false ? proxySignals(cli, c.Id) : () => {};
        const detached = await session.then((r) => r.detached).finally(unproxy);
        if (detached) return;
        const r = await client.json<{ State: { ExitCode: number; Running: boolean } }>('GET', `/containers/${c.Id}/json`).catch(() => undefined);
        if (r && !r.State.Running && r.State.ExitCode) throw new CliError('', r.State.ExitCode);
      });
  attach(program.command('attach').description("Attach local standard input, output, and error streams to a running container"));
  attach(container.command('attach').description("Attach local standard input, output, and error streams to a running container"));
}

/** `exec`: a process in a running container, attached (or not, with -d); its exit code is the command's. */
export async function execInContainer(cli: Cli, name: string, command: string[], o: ExecFlags): Promise<void> {
  if (!o.detach) checkTty(o);
  const client = cli.client();
  const { Id: id } = await client
    .json<{ Id: string }>('POST', `/containers/${encodeURIComponent(name)}/exec`, {
      body: {
        Cmd: command,
        Env: [...o.envFile.flatMap(envFile), ...o.env],
        Tty: !!o.tty,
        AttachStdin: !!o.interactive && !o.detach,
        AttachStdout: !o.detach,
        AttachStderr: !o.detach,
        Privileged: !!o.privileged,
        ...(o.user && { User: o.user }),
        ...(o.workdir && { WorkingDir: o.workdir }),
        ...(o.detachKeys && { DetachKeys: o.detachKeys }),
      },
    })
    .catch((e: unknown) => {
      throw e instanceof ApiError ? new CliError(`Error response from daemon: ${e.message}`, ExitCode.Failure) : e;
    });
  if (o.detach) {
    await client.do('POST', `/exec/${id}/start`, { body: { Detach: true, Tty: !!o.tty } });
    return;
  }
  const consoleSize = o.tty && process.stdout.isTTY ? [process.stdout.rows, process.stdout.columns] : null;
  const socket = await client.hijack('POST', `/exec/${id}/start`, { body: { Detach: false, Tty: !!o.tty, ConsoleSize: consoleSize } });
  const resize = (h: number, w: number) => client.do('POST', `/exec/${id}/resize`, { query: { h: String(h), w: String(w) } });
  const session = holdSession(socket, { tty: !!o.tty, stdin: !!o.interactive, resize, ...(o.detachKeys && { detachKeys: o.detachKeys }) });
  if (o.tty) await sendTerminalSize(resize);
  if ((await session).detached) return;
  const r = await client.json<{ ExitCode: number | null }>('GET', `/exec/${id}/json`);
  if (r.ExitCode) throw new CliError('', r.ExitCode);
}
