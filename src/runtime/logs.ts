import { type FSWatcher, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';

/** One chunk of container output. `text` ends with "\n" unless the process wrote a partial line. */
export interface LogEntry {
  stream: 'stdout' | 'stderr';
  time: string;
  text: string;
}

export interface ReadLogOptions {
  /** Keep reading as the file grows, until `done()` says the writer has finished. */
  follow?: boolean;
  done?: () => boolean;
  /** Only the last N entries (before following). */
  tail?: number;
  /** Start reading at this byte offset (an attach starts at the current end). */
  fromOffset?: number;
  signal?: AbortSignal;
  /** Subscribes to "the writer may have finished" (a container exit); returns the unsubscribe function. */
  onDone?: (wake: () => void) => () => void;
}

/** Parses conmon's k8s-file line: `<RFC3339Nano> <stdout|stderr> <F|P> <text>`. */
export function parseLogLine(line: string): LogEntry | undefined {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const full = line.slice(b + 1, c) === 'F';
  return { stream, time: line.slice(0, a), text: line.slice(c + 1) + (full ? '\n' : '') };
}

export async function logSize(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}

/** Reads a container log, optionally following it while the container runs. */
export async function* readLog(path: string, o: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  let offset = o.fromOffset ?? 0;
  let pending = '';
  let first = true;
  for (;;) {
    const fh = await open(path, 'r').catch(() => undefined);
    const entries: LogEntry[] = [];
    if (fh) {
      try {
        const { size } = await fh.stat();
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          await fh.read(buf, 0, buf.length, offset);
          offset = size;
          const text = pending + buf.toString('utf8');
          const lines = text.split('\n');
          pending = lines.pop() ?? '';
          for (const l of lines) {
            const e = parseLogLine(l);
            if (e) entries.push(e);
          }
        }
      } finally {
        await fh.close();
      }
    }
    yield* first && o.tail !== undefined && o.tail >= 0 ? entries.slice(Math.max(0, entries.length - o.tail)) : entries;
    first = false;
    if (!o.follow || o.signal?.aborted) return;
    if (o.done?.() && (await logSize(path)) <= offset) return;
    await changeOrTimeout(path, 250, o.onDone);
  }
}

/**
 * Resolves when `path` changes (inotify), when `onDone` fires, or after `ms`, whichever is first; a file not yet
 * created just waits.
 */
function changeOrTimeout(path: string, ms: number, onDone?: (wake: () => void) => () => void): Promise<void> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | undefined;
    let unsubscribe: (() => void) | undefined;
    const finish = () => {
      clearTimeout(timer);
      watcher?.close();
      unsubscribe?.();
      resolve();
    };
    const timer = setTimeout(finish, ms);
    unsubscribe = onDone?.(finish);
    try {
      watcher = watch(path, finish);
      watcher.on('error', finish);
    } catch {
      // not created yet
    }
  });
}
