import { type ChildProcess, spawn } from 'node:child_process';
import { close as closeFd, constants, existsSync, open as openFd, readFileSync, statSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ProgramError, runProgram } from '../kernel/launcher.js';
import { Internal, InvalidArgument, isNotExist } from '../errors/index.js';
import type { OciRuntime } from './oci-runtime.js';
import { AttachSocket } from './attach.js';
import { nanoTime } from '../util/timestamp.js';

/** Where one container's monitor keeps its files. */
export interface MonitorPaths {
  bundle: string;
  /** Log file, in the CRI "k8s-file" format conmon writes: `<RFC3339Nano> <stream> <F|P> <text>` per line. */
  logPath: string;
  /** Directory where the monitor writes `<id>` holding the exit code when the container ends. */
  exitDir: string;
  /** Directory for the attach socket. */
  socketDir: string;
  /** When the log reaches this size, conmon starts a fresh one (the older output is dropped). */
  logSizeMax?: number;
}

/** How the process's stdio is set up: a pipe or a TTY, with or without stdin. */
export interface StdioOptions {
  stdin?: boolean;
  terminal?: boolean;
  /** Keep the process's stdin open when an attached client goes (docker's StdinOnce=false). */
  leaveStdinOpen?: boolean;
}

function stdioArgs(o: StdioOptions): string[] {
  return [...(o.stdin ? ['-i'] : []), ...(o.terminal ? ['-t'] : []), ...(o.stdin && o.leaveStdinOpen ? ['--leave-stdin-open'] : [])];
}

/** An exec session's process. */
export interface ExecHandle {
  pid: number;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** The attach socket, connected before the process started (when asked for). */
  attach?: AttachSocket;
}

/**
 * Node's pipes to a child are socket pairs: when conmon dies with bytes of ours unread (the start pipe's "0"),
 * reading our end fails with ECONNRESET. The protocol notices the death on its own (a pipe ends, a message never
 * comes), so such an error must only not reach the process.
 */
function guardPipes(child: ChildProcess): void {
  child.on('error', () => {}); // spawn failures also end the pipes, which the callers see
  for (const pipe of child.stdio) pipe?.on('error', () => {});
}

/** JSON objects, one per line, from a pipe (conmon's sync and attach pipes). */
async function* jsonLines(stream: NodeJS.ReadableStream): AsyncGenerator<unknown> {
  let buf = '';
  for await (const chunk of stream) {
    buf += String(chunk);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as unknown;
    }
  }
}

/** The sync pipe conmon reports the container's pid on, in the bundle. */
const syncFifo = 'sync.fifo';

export interface MonitorHandle {
  /** The container's init process on the host. */
  pid: number;
  /** The monitor process (it outlives berthd). */
  monitorPid: number;
}

/**
 * The per-container monitor: conmon (Podman's, from Debian), a small C process that runs `runtime create`, holds
 * the container's stdio, writes its log and records its exit code, so containers outlive a berthd restart.
 * conmon daemonizes itself; once `create` returns, its pid files are written and the container is "created".
 */
export class ConmonMonitor {
  /**
   * `tmpDir`: where conmon makes the console sockets of TTY containers (its TMPDIR). A conmon killed while it sets
   * one up leaves its `conmon-term.*` directory behind; under berthd's exec root, start-up sweeps them, where
   * /tmp would keep them for good.
   */
  constructor(
    private readonly conmonPath: string,
    private readonly tmpDir?: string,
  ) {}

  private env(pipes: Record<string, string>): NodeJS.ProcessEnv {
    return { ...process.env, ...(this.tmpDir && { TMPDIR: this.tmpDir }), ...pipes };
  }

  /** Makes what `create` needs in a new bundle directory (the sync pipe's FIFO): a program run, which a start does beside its other preparations. */
  async prepare(bundle: string): Promise<void> {
    await runProgram('mkfifo', ['-m', '0600', join(bundle, syncFifo)]);
  }

  async create(id: string, runtime: OciRuntime, p: MonitorPaths, opts: StdioOptions = {}): Promise<MonitorHandle> {
    const pidFile = join(p.bundle, 'container.pid');
    const conmonPidFile = join(p.bundle, 'conmon.pid');
    const args = [
      '--api-version', '1',
      '-c', id,
      '-u', id,
      '-n', id,
      '-r', runtime.path,
      ...runtime.globalArgs.map((a) => `--runtime-arg=${a}`),
      '-b', p.bundle,
      '-p', pidFile,
      '-P', conmonPidFile,
      '-l', `k8s-file:${p.logPath}`,
      ...(p.logSizeMax ? ['--log-size-max', String(p.logSizeMax)] : []),
      // The journal is shipped to the json-file log and deleted: conmon need not fsync it (at exit, or at each
      // reopen, which would stall the container's output while a rotated journal is flushed).
      '--no-sync-log',
      '--exit-dir', p.exitDir,
      '--socket-dir-path', p.socketDir,
      '--full-attach',
      '--log-level', 'error',
      ...stdioArgs(opts),
    ];
    const reply = await this.spawnWithSyncPipe(args, p.bundle);
    const monitorPid = Number((await readFile(conmonPidFile, 'utf8').catch(() => '')).trim());
    if (reply.data === undefined || reply.data < 0) {
      if (monitorPid) killQuietly(monitorPid);
      const reason = runtimeMessage(reply.message ?? '') || 'no reason given';
      // A command that cannot be found or executed is the user's input, as Docker reports it (400).
      if (/executable file not found|no such file or directory|permission denied/.test(reason)) {
        throw new InvalidArgument(`OCI runtime create failed: ${reason}`);
      }
      throw new Internal(`OCI runtime create failed: ${reason}`);
    }
    return { pid: reply.data, monitorPid };
  }

  /**
   * Runs a process in a running container (`runtime exec`) under its own conmon, the way Podman's exec sessions
   * work: conmon sets up the attach socket in `dir` and says so on the attach pipe; the caller may connect; then
   * the start pipe lets the process run. The sync pipe reports its pid, then its exit code. Output is not logged.
   */
  async exec(containerId: string, runtime: OciRuntime, dir: string, processSpec: string, opts: StdioOptions & { attach: boolean; sessionId: string }): Promise<ExecHandle> {
    const args = [
      '--api-version', '1',
      '-c', containerId,
      '-u', opts.sessionId,
      '-n', containerId,
      '-r', runtime.path,
      ...runtime.globalArgs.map((a) => `--runtime-arg=${a}`),
      '-b', dir,
      '-p', join(dir, 'exec.pid'),
      '-P', join(dir, 'conmon.pid'),
      '-l', 'none',
      '--exit-dir', join(dir, 'exits'),
      '--socket-dir-path', dir,
      '--full-attach',
      '--log-level', 'error',
      '--exec',
      '--exec-process-spec', processSpec,
      '--exec-attach',
      ...stdioArgs(opts),
    ];
    const child = spawn(this.conmonPath, args, {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: this.env({ _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' }),
    });
    guardPipes(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const sync = jsonLines(child.stdio[3] as NodeJS.ReadableStream);
    const attachPipe = jsonLines((child.stdio as unknown as NodeJS.ReadableStream[])[5] as NodeJS.ReadableStream);
    const start = child.stdio[4] as NodeJS.WritableStream;
    const failed = (what: string) => new Internal(`exec: conmon ${what}: ${stderr.trim() || 'no reason given'}`);
    start.write('0'); // conmon waits for this before it daemonizes (a chance to place it in a cgroup)
    if ((await attachPipe.next()).done) throw failed('did not set up the attach socket');
    const attach = opts.attach ? await AttachSocket.connect(dir) : undefined;
    start.write('0'); // now the process may run: its first output will reach the attached socket
    const started = await sync.next();
    const pid = (started.value as { data?: number; message?: string } | undefined)?.data;
    if (started.done || pid === undefined || pid < 0) {
      attach?.close();
      const reason = runtimeMessage((started.value as { message?: string } | undefined)?.message ?? stderr);
      throw new InvalidArgument(`OCI runtime exec failed: ${reason || 'no reason given'}`);
    }
    const exited = sync.next().then(async (r) => {
      (start as unknown as { destroy(): void }).destroy();
      const code = (r.value as { data?: number } | undefined)?.data;
      // After a berthd restart the pipe is gone; the exit file still has the code.
      return typeof code === 'number' ? code : ((await this.exitCode(containerId, join(dir, 'exits'))) ?? -1);
    });
    return { pid, exited, ...(attach && { attach }) };
  }

  /**
   * Runs conmon with the sync pipe Podman uses (`_OCI_SYNCPIPE`, fd 3): conmon daemonizes, and its daemon writes
   * `{"data": <pid>}` once the runtime has created the container, or a negative value and a message if it failed.
   *
   * conmon is started through the launcher (kernel/launcher.ts), not forked from berthd (~12 ms of berthd's
   * event loop per container start, measured), so the pipe is a FIFO in the bundle: berthd reads it, the
   * launcher's shell opens it as conmon's fd 3.
   */
  private async spawnWithSyncPipe(args: string[], cwd: string): Promise<{ data?: number; message?: string }> {
    const path = join(cwd, syncFifo);
    if (!existsSync(path)) await this.prepare(cwd);
    try {
      // Opening the reading end waits for the writing end: the shell opens it before it starts conmon.
      const reader = promisify(openFd)(path, constants.O_RDONLY);
      const launched = runProgram(this.conmonPath, args, { cwd, env: { ...(this.tmpDir && { TMPDIR: this.tmpDir }), _OCI_SYNCPIPE: '3' }, fds: { 3: path } });
      const failed = launched.then(
        () => undefined,
        (e: ProgramError) => {
          // The shell may have gone before opening its end: open one so that the reader is not left waiting.
          openFd(path, constants.O_WRONLY | constants.O_NONBLOCK, (err, fd) => !err && closeFd(fd, () => {}));
          return e.stderr?.trim() || e.message;
        },
      );
      const sync = new Socket({ fd: await reader, readable: true, writable: false });
      try {
        let text = '';
        for await (const chunk of sync) {
          text += String(chunk);
          const line = text.split('\n').find((l) => l.includes('"data"'));
          if (line) return JSON.parse(line) as { data?: number; message?: string };
        }
        return { message: (await failed) || 'conmon exited without reporting' };
      } finally {
        sync.destroy();
      }
    } finally {
      await rm(path, { force: true });
    }
  }

  /**
   * Whether the container's monitor still runs: its pid file names a live process that is the conmon of this
   * container (checked by its command line, so a reused pid is not taken for it).
   *
   * This and exitCode are polled for every running container: they read their few bytes synchronously, which
   * costs microseconds, where each asynchronous read is four trips through the thread pool.
   */
  async alive(id: string, bundle: string): Promise<boolean> {
    const pid = Number(readQuietly(join(bundle, 'conmon.pid')).trim());
    if (!pid) return false;
    return readQuietly(`/proc/${pid}/cmdline`).split('\0').includes(id);
  }

  /**
   * SIGKILLs the monitors of a container's exec sessions that are still alive (`<bundle>/exec/<session>/conmon.pid`).
   * A container's init cannot finish dying while one of its exec processes is a zombie its monitor does not reap,
   * and a monitor blocked writing input to a full terminal never reaps: killing the container kills them too.
   */
  async killExecMonitors(id: string, bundle: string): Promise<number> {
    let killed = 0;
    for (const session of await readdir(join(bundle, 'exec')).catch(() => [] as string[])) {
      const pid = Number(readQuietly(join(bundle, 'exec', session, 'conmon.pid')).trim());
      if (!pid || !readQuietly(`/proc/${pid}/cmdline`).split('\0').includes(id)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone meanwhile
      }
    }
    return killed;
  }

  /** The exit code the monitor recorded, or undefined while the container runs. */
  async exitCode(id: string, exitDir: string): Promise<number | undefined> {
    return (await this.exitStatus(id, exitDir))?.code;
  }

  /**
   * The exit code the monitor recorded and when (the exit file's time: right for an exit that happened while
   * berthd was down), or undefined while the container runs.
   */
  async exitStatus(id: string, exitDir: string): Promise<{ code: number; at: string } | undefined> {
    const path = join(exitDir, id);
    if (!existsSync(path)) return undefined; // the common case, without the cost of an error
    try {
      const text = readFileSync(path, 'utf8').trim();
      return text === '' ? undefined : { code: Number(text), at: nanoTime(statSync(path, { bigint: true }).mtimeNs) };
    } catch (e) {
      if (isNotExist(e)) return undefined;
      throw e;
    }
  }

}

/** A small file's text, or '' when it cannot be read. */
function readQuietly(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** runc/crun log lines look like `time="…" level=error msg="…"`: keep the message. */
function runtimeMessage(text: string): string {
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(text);
  return (m?.[1] ?? text).replace(/\\"/g, '"').trim();
}
