import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Internal, InvalidArgument, isNotExist } from '../errors/index.js';
import type { OciRuntime } from './oci-runtime.js';

/** Where one container's monitor keeps its files. */
export interface MonitorPaths {
  bundle: string;
  /** Log file, in the CRI "k8s-file" format conmon writes: `<RFC3339Nano> <stream> <F|P> <text>` per line. */
  logPath: string;
  /** Directory where the monitor writes `<id>` holding the exit code when the container ends. */
  exitDir: string;
  /** Directory for the attach socket. */
  socketDir: string;
}

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
  constructor(private readonly conmonPath: string) {}

  async create(id: string, runtime: OciRuntime, p: MonitorPaths, opts: { stdin?: boolean; terminal?: boolean } = {}): Promise<MonitorHandle> {
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
      '--exit-dir', p.exitDir,
      '--socket-dir-path', p.socketDir,
      '--full-attach',
      '--log-level', 'error',
      ...(opts.stdin ? ['-i'] : []),
      ...(opts.terminal ? ['-t'] : []),
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
   * Runs conmon with the sync pipe Podman uses (`_OCI_SYNCPIPE`, fd 3): conmon daemonizes, and its daemon writes
   * `{"data": <pid>}` once the runtime has created the container, or a negative value and a message if it failed.
   */
  private spawnWithSyncPipe(args: string[], cwd: string): Promise<{ data?: number; message?: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.conmonPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: { ...process.env, _OCI_SYNCPIPE: '3' } });
      let stderr = '';
      let text = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const sync = child.stdio[3] as NodeJS.ReadableStream;
      sync.on('data', (d: Buffer) => {
        text += d.toString();
        const line = text.split('\n').find((l) => l.includes('"data"'));
        if (line) {
          sync.removeAllListeners('data');
          (sync as unknown as { destroy(): void }).destroy();
          resolve(JSON.parse(line) as { data?: number; message?: string });
        }
      });
      sync.on('end', () => resolve({ message: stderr.trim() || 'conmon exited without reporting' }));
      child.on('error', reject);
    });
  }

  /** The exit code the monitor recorded, or undefined while the container runs. */
  async exitCode(id: string, exitDir: string): Promise<number | undefined> {
    try {
      const text = (await readFile(join(exitDir, id), 'utf8')).trim();
      return text === '' ? undefined : Number(text);
    } catch (e) {
      if (isNotExist(e)) return undefined;
      throw e;
    }
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
