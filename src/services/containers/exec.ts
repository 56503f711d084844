// Exec sessions: a process started in a running container by its own conmon (`runtime exec`), from the
// container's process settings (capabilities, rlimits, no-new-privileges) with the exec's args, env, user, cwd.
// Sessions live in memory, as in dockerd; a daemon restart forgets them (their processes keep running).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Conflict, NotFound } from '../../errors/index.js';
import { removeAll } from '../../kernel/fs.js';
import { type AttachSocket, type ConmonMonitor, type RuntimeSpec, allCapabilities, resizeTerminal } from '../../runtime/index.js';
import { newId } from '../../util/ids.js';
import type { ContainerService } from './index.js';
import { mergeEnv, processEnv, resolveUser } from './spec.js';

/** The body of `POST /containers/{id}/exec`. */
export interface ExecConfig {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
  ConsoleSize?: [number, number] | null;
}

interface ExecSession {
  id: string;
  containerId: string;
  config: ExecConfig & { Cmd: string[] };
  running: boolean;
  exitCode: number | null;
  pid: number;
  dir: string;
  /** When the process exited (ms since the epoch), for dropping old sessions. */
  exitedAt?: number;
}

/** Finished sessions are kept this long for `exec inspect`, as dockerd's exec GC keeps them. */
const keepFinishedMs = 5 * 60_000;

/** A started session, as the API streams it. */
export interface StartedExec {
  tty: boolean;
  /** Connected before the process ran, so no output is lost; absent for detached starts. */
  attach?: AttachSocket;
  /** Resolves with the exit code (recorded before it resolves). */
  exited: Promise<number>;
}

export class ExecService {
  private readonly sessions = new Map<string, ExecSession>();

  constructor(
    private readonly containers: ContainerService,
    private readonly monitor: ConmonMonitor,
  ) {}

  create(containerIdOrName: string, config: ExecConfig): ExecSession {
    const { container, bundle } = this.containers.execTarget(containerIdOrName);
    const cmd = config.Cmd ?? [];
    if (cmd.length === 0) throw new NotFound('No exec command specified');
    this.forgetFinished();
    const id = newId();
    const session: ExecSession = { id, containerId: container.id, config: { ...config, Cmd: cmd }, running: false, exitCode: null, pid: 0, dir: join(bundle, 'exec', id.slice(0, 32)) };
    this.sessions.set(id, session);
    this.containers.publish(container, `exec_create: ${cmd.join(' ')}`, { execID: id });
    return session;
  }

  /** Finished sessions of containers that are gone or no longer running, or finished long ago, are of no more use. */
  private forgetFinished(): void {
    for (const [id, s] of this.sessions) {
      if (s.running) continue;
      if (s.exitedAt !== undefined && Date.now() - s.exitedAt > keepFinishedMs) {
        this.sessions.delete(id);
        continue;
      }
      try {
        this.containers.execTarget(s.containerId);
      } catch {
        this.sessions.delete(id);
      }
    }
  }

  get(id: string): ExecSession {
    const s = this.sessions.get(id);
    if (!s) throw new NotFound(`No such exec instance: ${id}`);
    return s;
  }

  /** Whether the session can start (else the error dockerd answers with): checked before a stream is opened. */
  startable(id: string): ExecSession {
    const s = this.get(id);
    if (s.running || s.exitCode !== null) throw new Conflict(`Error: Exec command ${id} is already running`);
    this.containers.execTarget(s.containerId);
    return s;
  }

  /** Starts the process; with `detach`, nothing is attached and its output is discarded. */
  async start(id: string, o: { detach: boolean; consoleSize?: [number, number] | null }): Promise<StartedExec> {
    const s = this.startable(id);
    const { container, runtime, bundle, rootfs } = this.containers.execTarget(s.containerId);
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
    // A user the container does not have fails the start as the runtime's errors do: exit code 126 (dockerd's).
    const user = s.config.User ? await resolveUser(rootfs, s.config.User).catch((e: unknown) => Promise.reject(failedStart(s, e))) : spec.process.user;
    const caps = s.config.Privileged ? allCapabilities() : spec.process.capabilities.bounding;
    const tty = !!s.config.Tty;
    const processSpec: RuntimeSpec['process'] = {
      ...spec.process,
      terminal: tty,
      ...consoleSize(tty ? (o.consoleSize ?? s.config.ConsoleSize) : undefined),
      args: s.config.Cmd,
      env: mergeEnv(processEnv(container.config, tty), s.config.Env ?? []),
      cwd: s.config.WorkingDir || spec.process.cwd,
      user,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
    };
    await mkdir(join(s.dir, 'exits'), { recursive: true, mode: 0o700 });
    const specPath = join(s.dir, 'process.json');
    await writeFile(specPath, JSON.stringify(processSpec));
    s.running = true;
    const attach = !o.detach && !!(s.config.AttachStdin || s.config.AttachStdout || s.config.AttachStderr);
    let handle;
    try {
      handle = await this.monitor.exec(container.id, runtime, s.dir, specPath, {
        attach,
        sessionId: s.id,
        stdin: !!s.config.AttachStdin && attach,
        terminal: tty,
      });
    } catch (e) {
      // dockerd's code for an exec that could not start (not found, not executable, bad user…); a container that
      // exited meanwhile is "not running" (409), as it would have been a moment later.
      s.running = false;
      s.exitCode = 126;
      throw await this.containers.notRunningOr(container, e);
    }
    s.pid = handle.pid;
    this.containers.publish(container, `exec_start: ${s.config.Cmd.join(' ')}`, { execID: id });
    const exited = handle.exited.then((code) => {
      s.running = false;
      s.exitCode = code;
      s.pid = 0;
      s.exitedAt = Date.now();
      // The session's files (spec, exit file, attach socket) are done with once its conmon has left, just after it
      // reported the exit; kept, they would pile up for a container that runs many execs or health checks.
      setTimeout(() => void removeAll(s.dir).catch(() => {}), 1000).unref();
      this.containers.publish(container, 'exec_die', { execID: id, exitCode: String(code) });
      return code;
    });
    return { tty, exited, ...(handle.attach && { attach: handle.attach }) };
  }

  /** Drops a finished session (a health check's: they would pile up for a long-running container). */
  forget(id: string): void {
    if (!this.sessions.get(id)?.running) this.sessions.delete(id);
  }

  /** SIGKILL for a session's process (a health check past its timeout). */
  kill(id: string): void {
    const s = this.sessions.get(id);
    if (s?.running && s.pid > 0) {
      try {
        process.kill(s.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const s = this.get(id);
    if (!s.running) throw new Conflict(`Exec ${id} is not running`);
    if (s.config.Tty) await resizeTerminal(s.dir, height, width);
  }

  /** `GET /exec/{id}/json`. */
  inspect(id: string) {
    const s = this.get(id);
    const [entrypoint = '', ...args] = s.config.Cmd;
    return {
      ID: s.id,
      Running: s.running,
      ExitCode: s.exitCode,
      ProcessConfig: { tty: !!s.config.Tty, entrypoint, arguments: args, privileged: !!s.config.Privileged, ...(s.config.User && { user: s.config.User }) },
      OpenStdin: !!s.config.AttachStdin,
      OpenStderr: !!s.config.AttachStderr,
      OpenStdout: !!s.config.AttachStdout,
      CanRemove: false,
      ContainerID: s.containerId,
      DetachKeys: s.config.DetachKeys ?? '',
      Pid: s.pid,
    };
  }

  /** IDs of a container's sessions (container inspect's ExecIDs). */
  idsOf(containerId: string): string[] {
    return [...this.sessions.values()].filter((s) => s.containerId === containerId).map((s) => s.id);
  }
}

function failedStart(s: ExecSession, e: unknown): unknown {
  s.exitCode = 126;
  return e;
}

function consoleSize(size: [number, number] | null | undefined): { consoleSize?: { height: number; width: number } } {
  return size?.[0] && size[1] ? { consoleSize: { height: size[0], width: size[1] } } : {};
}
