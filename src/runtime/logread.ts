// Reading a container's json-file log set (`<log>.N` … `<log>.1`, then `<log>`): in chunks, never a whole file in
// memory; `tail` found by reading backwards from the end; since/until by time; `follow` goes on with the current
// file as it grows and across rotations (a rotation renames it away: the path is reopened when its inode changes).
import { closeSync, fstatSync, openSync, read, statSync } from 'node:fs';
import { LogBatch, timeKey } from './logformat.js';

/** A json-file log: its current file and how many files rotation keeps (the current one included). */
export interface LogFiles {
  path: string;
  maxFiles: number;
}

/** How a follower learns of new output, and that there will be no more. */
export interface LogFollow {
  /** Calls `wake` when the log may have grown or rotated, or the writer may be done; returns the unsubscribe. */
  subscribe(wake: () => void): () => void;
  /** True once nothing more will be written (asked before the last read, so nothing is missed). */
  done(): boolean;
}

export interface ReadLogOptions {
  /** Only the last N entries (then, with `follow`, what comes next). */
  tail?: number;
  /** RFC3339Nano (UTC) bounds: entries from `since` on, and up to `until` (the read ends at the first later one). */
  since?: string;
  until?: string;
  /** Only what was written after this point (`logEnd` when an attach began). */
  after?: LogPosition;
  follow?: LogFollow;
  signal?: AbortSignal;
}

const chunkSize = 1 << 20;
/** Followers re-check this often even without a wake-up (a safety net, as the exit watcher has). */
const pollMs = 1000;

/** A point in a log set: a file (by inode, so it is found again once rotated) and an offset in it. */
export interface LogPosition {
  ino: number;
  size: number;
}

/** Where the log ends now; undefined if it has no file yet. */
export function logEnd(path: string): LogPosition | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  return st && { ino: st.ino, size: st.size };
}

interface OpenLog {
  fd: number;
  ino: number;
  /** Read up to here (always a line start). */
  offset: number;
  /** For a rotated file: its final size. */
  end?: number;
}

/** Reads the log set in batches of entries, oldest first. */
export async function* readJsonLog(files: LogFiles, o: ReadLogOptions = {}): AsyncGenerator<LogBatch> {
  const { rotated, current: opened } = openSet(files);
  let current = opened;
  // Without `follow`, what was there when the read began (a fast writer would otherwise never let it end).
  if (current && !o.follow) current.end = fstatSync(current.fd).size;
  const reads = new InflightReads();
  const window = new TimeWindow(o.since, o.until);
  try {
    let first = 0;
    if (o.after) {
      const all = current ? [...rotated, current] : rotated;
      const at = all.findIndex((f) => f.ino === o.after?.ino);
      // Not found: rotated away since, so everything still there came after it.
      if (at >= 0) (all[at] as OpenLog).offset = o.after.size;
      first = Math.max(0, at);
    } else if (o.tail !== undefined) {
      first = await seekTail(current ? [...rotated, current] : rotated, o.tail, reads);
    }
    for (const f of rotated.slice(first)) {
      for await (const batch of readFrom(f, reads)) {
        if (window.apply(batch)) yield batch;
        if (window.ended) return;
      }
    }
    yield* follow(files.path, current, o, window, reads, (f) => (current = f));
  } finally {
    await reads.settled();
    for (const f of [...rotated, ...(current ? [current] : [])]) closeQuietly(f.fd);
  }
}

/** The current file: read it to its end, and with `follow`, keep reading as it grows and rotates. */
async function* follow(path: string, start: OpenLog | undefined, o: ReadLogOptions, window: TimeWindow, reads: InflightReads, setCurrent: (f: OpenLog | undefined) => void): AsyncGenerator<LogBatch> {
  let current = start;
  let woken = false;
  let wake: (() => void) | undefined;
  const unsubscribe = o.follow?.subscribe(() => {
    woken = true;
    wake?.();
  });
  try {
    for (;;) {
      woken = false;
      const finished = !o.follow || o.follow.done();
      if (current) {
        for await (const batch of readFrom(current, reads)) {
          if (window.apply(batch)) yield batch;
          if (window.ended) return;
        }
      }
      if (!o.follow || o.signal?.aborted || window.passed()) return;
      const now = statSync(path, { throwIfNoEntry: false });
      if (now && now.ino !== current?.ino) {
        // Rotated (or created): what the old file got before the rotation was read above; go on with the new one.
        if (current) closeQuietly(current.fd);
        current = openLog(path);
        setCurrent(current);
        continue;
      }
      if (finished) return;
      if (!woken) await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          o.signal?.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, window.msLeft(pollMs));
        o.signal?.addEventListener('abort', done);
        wake = done;
      });
    }
  } finally {
    unsubscribe?.();
  }
}

/** Batches from `f.offset` to the end of the file (or its recorded end), one chunk read ahead. */
async function* readFrom(f: OpenLog, reads: InflightReads): AsyncGenerator<LogBatch> {
  let size = chunkSize;
  let next = reads.add(readChunk(f, size));
  for (;;) {
    const chunk = await next;
    if (!chunk) return;
    const { batch, used } = LogBatch.parse(chunk.buf, chunk.bytes);
    if (used === 0) {
      if (chunk.bytes < size) return; // the end holds a line still being written: read it again next time
      size *= 2; // a line longer than a chunk
      next = reads.add(readChunk(f, size));
      continue;
    }
    f.offset += used;
    next = reads.add(readChunk(f, size));
    if (batch.length > 0) yield batch;
  }
}

async function readChunk(f: OpenLog, size: number): Promise<{ buf: Buffer; bytes: number } | undefined> {
  const left = (f.end ?? fstatSync(f.fd).size) - f.offset;
  if (left <= 0) return undefined;
  const buf = Buffer.allocUnsafe(Math.min(left, size));
  const bytes = await new Promise<number>((resolve, reject) => read(f.fd, buf, 0, buf.length, f.offset, (e, n) => (e ? reject(e) : resolve(n))));
  return bytes > 0 ? { buf, bytes } : undefined;
}

/**
 * Opens the rotated files (oldest first) and the current one, all in one synchronous step: rotation also happens
 * synchronously in this process, so the set is never seen half-rotated.
 */
function openSet(files: LogFiles): { rotated: OpenLog[]; current: OpenLog | undefined } {
  const rotated: OpenLog[] = [];
  for (let i = files.maxFiles - 1; i >= 1; i--) {
    const f = openLog(`${files.path}.${i}`);
    if (f) rotated.push({ ...f, end: fstatSync(f.fd).size });
  }
  return { rotated, current: openLog(files.path) };
}

function openLog(path: string): OpenLog | undefined {
  try {
    const fd = openSync(path, 'r');
    return { fd, ino: fstatSync(fd).ino, offset: 0 };
  } catch {
    return undefined;
  }
}

/**
 * Positions the set at its last `n` entries, reading backwards; returns the index of the first file to read (the
 * files before it are skipped, it is positioned).
 */
async function seekTail(set: OpenLog[], n: number, reads: InflightReads): Promise<number> {
  let wanted = n + 1; // the newline that ends the line before the first one wanted
  for (let i = set.length - 1; i >= 0; i--) {
    const f = set[i] as OpenLog;
    let end = f.end ?? fstatSync(f.fd).size;
    const block = Buffer.allocUnsafe(64 * 1024);
    // The first newline from the end ends the last whole line (a torn one after it, still being written, is no
    // entry yet); each further one ends the line before.
    while (end > 0) {
      const len = Math.min(block.length, end);
      const start = end - len;
      await reads.add(new Promise<number>((resolve, reject) => read(f.fd, block, 0, len, start, (e, k) => (e ? reject(e) : resolve(k)))));
      // (lastIndexOf counts a negative offset from the end: never pass one)
      for (let p = block.lastIndexOf(0x0a, len - 1); p >= 0; p = p > 0 ? block.lastIndexOf(0x0a, p - 1) : -1) {
        if (--wanted === 0) {
          f.offset = start + p + 1;
          return i;
        }
      }
      end = start;
    }
    if (wanted === 1) return i; // every line of this file is wanted, none before
  }
  return 0;
}

/** since/until on entries (dockerd's forwarder: `since` is checked until the first entry passes it). */
class TimeWindow {
  ended = false;
  private readonly untilMs: number | undefined;

  private since: string | undefined;
  private readonly until: string | undefined;

  constructor(since: string | undefined, until: string | undefined) {
    this.since = since === undefined ? undefined : timeKey(since);
    this.until = until === undefined ? undefined : timeKey(until);
    this.untilMs = until === undefined ? undefined : Date.parse(until);
  }

  /** Drops what is outside the window; false if nothing is left. */
  apply(batch: LogBatch): boolean {
    if (this.since !== undefined) {
      let i = 0;
      while (i < batch.length && timeKey(batch.time(i)) < this.since) i++;
      batch.skip(i);
      if (batch.length > 0) this.since = undefined;
    }
    if (this.until !== undefined) {
      for (let i = 0; i < batch.length; i++) {
        if (timeKey(batch.time(i)) > this.until) {
          batch.truncate(i);
          this.ended = true;
          break;
        }
      }
    }
    return batch.length > 0;
  }

  /** A follower stops once `until` is past. */
  passed(): boolean {
    return this.untilMs !== undefined && Date.now() > this.untilMs;
  }

  msLeft(max: number): number {
    return this.untilMs === undefined ? max : Math.max(1, Math.min(max, this.untilMs - Date.now() + 1));
  }
}

/** Reads in flight, so no descriptor is closed (and reused) under a read still running in the thread pool. */
class InflightReads {
  private readonly pending = new Set<Promise<unknown>>();

  add<T>(p: Promise<T>): Promise<T> {
    const tracked = p.finally(() => this.pending.delete(tracked));
    tracked.catch(() => {}); // an abandoned read-ahead may fail once its reader is gone
    this.pending.add(tracked);
    return tracked;
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
