// A container's I/O: its output shipped from conmon's journal into the json-file log, read back by `logs` and by
// attached clients, and attached clients' input carried to its stdin through conmon's attach socket.
import { join } from 'node:path';
import { Conflict } from '../../errors/index.js';
import { AttachSocket, type LogBatch, type LogFiles, LogShipper, type ShipTarget, logEnd, readJsonLog } from '../../runtime/index.js';
import type { Logger } from '../../util/logger.js';
import { supervise } from '../../util/supervise.js';
import { type LogConfig, logRotation } from './hostconfig.js';
import { matchesPattern } from './filters.js';
import type { Waiters } from './exits.js';
import type { ContainerStore } from './store.js';
import { isUp } from './state.js';
import type { ContainerRecord } from './record.js';

/** Input for a container's stdin, from attached clients. */
export interface StdinSink {
  write(data: Buffer): Promise<void>;
  /** The client's input ended: closes the container's stdin if it was opened for one attach (StdinOnce). */
  end(): Promise<void>;
}

/** Where a container's files are: its persistent directory and its runtime (bundle) directory. */
export interface ContainerDirs {
  dataDir(id: string): string;
  bundleDir(id: string): string;
}

export class ContainerIO {
  /** Ships each running container's conmon journal into its json-file log. */
  readonly shipper: LogShipper;
  /** Attached output readers per container: auto-removal waits for them to read the last output. */
  private readonly readers = new Map<string, number>();
  /** Connections to each running container's attach socket carrying clients' input. */
  private readonly stdinConns = new Map<string, Promise<AttachSocket>>();

  constructor(
    private readonly store: ContainerStore,
    private readonly waiters: Waiters,
    private readonly dirs: ContainerDirs,
    private readonly log: Logger,
  ) {
    this.shipper = new LogShipper(log.child({ component: 'logship' }));
  }

  /** The json-file log inspect shows (none for the `none` driver). */
  logPath(c: ContainerRecord): string {
    return logConfig(c).Type === 'none' ? '' : join(this.dirs.dataDir(c.id), `${c.id}-json.log`);
  }

  /**
   * Where the shipper writes a container's output and how it rotates. With the `none` driver there are no logs to
   * read, but attached clients still need the output: it goes to a small file of its own, rotated at 1 MiB.
   */
  shipTarget(c: ContainerRecord): ShipTarget {
    const dir = this.dirs.dataDir(c.id);
    const lc = logConfig(c);
    const log = lc.Type === 'none' ? { path: join(dir, 'attach.log'), maxSize: 1 << 20, maxFiles: 1 } : { path: join(dir, `${c.id}-json.log`), ...logRotation(lc) };
    return { dir, ctlDir: this.dirs.bundleDir(c.id), log, attrs: logAttributes(c, lc) };
  }

  /** conmon's own bound on the journal, when the log is bounded (see LogShipper.journalCap). */
  journalCap(c: ContainerRecord): { logSizeMax?: number } {
    const cap = this.shipper.journalCap(this.shipTarget(c));
    return cap ? { logSizeMax: cap } : {};
  }

  /** Starts (or, after a berthd restart, resumes) shipping a running container's output. */
  ship(c: ContainerRecord): void {
    this.shipper.ship(c.id, this.shipTarget(c));
  }

  /** Ships what is left of the journal (conmon has exited): the log is complete once this resolves. */
  async drain(c: ContainerRecord): Promise<void> {
    this.ship(c); // after a berthd restart, resumes where it stopped
    await this.shipper.drain(c.id).catch((error: unknown) => this.log.warn('shipping the last output failed', { container: c.id, error }));
  }

  /**
   * The container is going: its shipping stops and its input connection closes. A connection still waiting for
   * the container to start is not waited for (it never will start): it fails when the removal is announced.
   */
  async close(id: string): Promise<void> {
    const conn = this.stdinConns.get(id);
    this.stdinConns.delete(id);
    if (conn) supervise(this.log, 'closing an input connection', conn.then((s) => s.close(), () => undefined), { container: id });
    await this.shipper.stop(id);
  }

  private logFiles(c: ContainerRecord): LogFiles {
    const { path, maxFiles } = this.shipTarget(c).log;
    return { path, maxFiles };
  }

  /** The json-file log, in batches; with `follow`, until the container stops. Since/until are RFC3339Nano. */
  logs(c: ContainerRecord, o: { follow?: boolean; tail?: number; since?: string; until?: string; signal?: AbortSignal } = {}): AsyncGenerator<LogBatch> {
    if (logConfig(c).Type === 'none') throw new Conflict('configured logging driver does not support reading');
    const { follow, ...rest } = o;
    return readJsonLog(this.logFiles(c), {
      ...rest,
      ...(follow && isUp(c.state.status) && { follow: this.follower(c.id, () => !isUp(this.store.get(c.id)?.state.status)) }),
    });
  }

  /** Wake-ups for a log follower: new output, an exit or the removal; `done` says when to stop. */
  private follower(id: string, done: () => boolean) {
    return {
      done,
      subscribe: (wake: () => void) => {
        const unsubscribeLog = this.shipper.subscribe(id, wake);
        const unsubscribeLife = this.waiters.subscribe(id, ['exit', 'removed'], wake);
        return () => {
          unsubscribeLog();
          unsubscribeLife();
        };
      },
    };
  }

  /**
   * Output from now on (all of it if the container has not started; from the start of the log with `logs`): what
   * an attached client receives.
   */
  attachOutput(c: ContainerRecord, o: { logs?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<LogBatch> {
    const files = this.logFiles(c);
    // Fixed now, before the client is answered (and starts the container): later output is all the client's.
    const after = c.state.status === 'created' || o.logs ? undefined : logEnd(files.path);
    const startedBefore = c.state.startedAt;
    const wasRunning = c.state.status === 'running';
    const log = readJsonLog(files, {
      ...(after && { after }),
      ...(o.signal && { signal: o.signal }),
      // Done once the container is gone, or has run (a new start) and is no longer running.
      follow: this.follower(c.id, () => {
        const now = this.store.get(c.id)?.state;
        if (!now) return true;
        const ranSinceAttach = now.startedAt !== startedBefore || wasRunning;
        return ranSinceAttach && now.status !== 'running';
      }),
    });
    const { readers, waiters } = this;
    // Counted from the first read (a generator never iterated must not hold up removal).
    return (async function* () {
      readers.set(c.id, (readers.get(c.id) ?? 0) + 1);
      try {
        yield* log;
      } finally {
        const left = (readers.get(c.id) ?? 1) - 1;
        if (left > 0) readers.set(c.id, left);
        else {
          readers.delete(c.id);
          waiters.readDone(c.id);
        }
      }
    })();
  }

  /** Resolves when no attached client is still reading the container's output, or after `limitMs`. */
  readersDone(id: string, limitMs: number): Promise<void> {
    if (!this.readers.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, limitMs);
      const unsubscribe = this.waiters.subscribe(id, ['read'], done);
    });
  }

  /**
   * Where an attached client's input goes: the container's stdin through conmon's attach socket, connected once
   * the container runs (clients attach before `start`). One connection per container run is shared by all
   * clients and kept when a client detaches, since conmon closes stdin when the last connection goes (for
   * StdinOnce containers, which is what `end` does on purpose).
   */
  stdin(c: ContainerRecord): StdinSink {
    if (!c.config.OpenStdin) throw new Conflict(`container ${c.id} was not created with stdin open (-i)`);
    const connection = () => {
      let conn = this.stdinConns.get(c.id);
      if (!conn) {
        conn = this.whenRunning(c.id).then(async () => {
          const socket = await AttachSocket.connect(this.dirs.bundleDir(c.id));
          socket.onOutput(() => {}); // output is served from the log; the socket must still be drained
          socket.onClose(() => this.stdinConns.delete(c.id));
          return socket;
        });
        // A failed connection is retried by the next write; the failure itself reaches that write's caller.
        conn.catch(() => this.stdinConns.delete(c.id));
        this.stdinConns.set(c.id, conn);
      }
      return conn;
    };
    return {
      write: async (data) => (await connection()).write(data),
      end: async () => {
        if (c.config.StdinOnce) (await connection()).closeStdin();
      },
    };
  }

  /** Resolves when the container runs (now, or at its next start). */
  private whenRunning(id: string): Promise<void> {
    if (this.store.get(id)?.state.status === 'running') return Promise.resolve();
    return this.waiters.nextStart(id);
  }
}

/** Records made before log drivers existed have no LogConfig: json-file, as then. */
function logConfig(c: ContainerRecord): LogConfig {
  return c.hostConfig.LogConfig ?? { Type: 'json-file', Config: {} };
}

/**
 * What every json-file entry of the container carries (moby's Info.ExtraAttributes and its `tag`): the labels and
 * environment variables the log options name or match, and the tag (a template of the container's names).
 */
function logAttributes(c: ContainerRecord, log: LogConfig): Record<string, string> {
  const o = log.Config;
  const out: Record<string, string> = {};
  const env = Object.fromEntries(c.config.Env.map((e) => [e.split('=', 1)[0] ?? '', e.slice(e.indexOf('=') + 1)]));
  const pick = (from: Record<string, string>, names: string | undefined, pattern: string | undefined) => {
    for (const k of (names ?? '').split(',').filter(Boolean)) if (k in from) out[k] = from[k] ?? '';
    if (pattern) for (const [k, v] of Object.entries(from)) if (matchesPattern(pattern, k)) out[k] = v;
  };
  pick(c.config.Labels, o['labels'], o['labels-regex']);
  pick(env, o['env'], o['env-regex']);
  if (o['tag']) {
    const fields: Record<string, string> = { ID: c.id.slice(0, 12), FullID: c.id, Name: c.name, ImageID: c.image.replace(/^sha256:/, '').slice(0, 12), ImageFullID: c.image, ImageName: c.imageName, DaemonName: 'docker' };
    out['tag'] = o['tag'].replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, f: string) => fields[f] ?? m);
  }
  return out;
}
