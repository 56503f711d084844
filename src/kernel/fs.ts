import { type FileHandle, lstat, open, rename, mkdir, readdir, rm, readFile, unlink } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { InvalidArgument, isNotExist } from '../errors/index.js';

/** fsync a file's data and metadata to disk. */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Flushes a file being written as it grows: a datasync every `every` bytes (one at a time, not awaited), so that
 * the fsync that makes it durable at the end has only the tail left. On these VMs a 40 MB file's final fsync took
 * ~35 ms; written with a datasync every 8 MiB, ~7 ms, and the writes were no slower. `wrote` counts what was handed
 * to the file; `settle` waits for the datasync under way. A datasync that fails is not told: the final fsync,
 * which the caller must do, fails as well.
 */
export function syncAsWritten(fh: FileHandle, every = 8 << 20): { wrote(n: number): void; settle(): Promise<void> } {
  let pending = 0;
  let inflight: Promise<void> | undefined;
  return {
    wrote(n) {
      pending += n;
      if (pending < every || inflight) return;
      pending = 0;
      inflight = fh
        .datasync()
        .catch(() => {})
        .finally(() => (inflight = undefined));
    },
    settle: async () => inflight,
  };
}

/** fsync a directory so a rename or create inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

let tmpCounter = 0;
/**
 * Crash-safe file replace: write a temp file beside the target, fsync it, rename over the target, fsync the
 * directory. A reader (or a restart after kill -9) sees the old content or the new, never a torn file.
 */
export async function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

export async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    if (isNotExist(e)) return undefined;
    throw e;
  }
}

export async function ensureDir(path: string, mode = 0o700): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

export async function removeAll(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Join an untrusted relative path (from a tar entry, an archive API call) onto `root` lexically:
 * leading slashes are dropped and `..` may never climb above root. Symlinks are the caller's concern
 * (see layers/archive, which refuses to write through them). To resolve symlinks inside the root as the container
 * sees them (absolute targets from its root), safely while it runs, use `ScopedRoot` in kernel/scoped.ts.
 */
export function joinInRoot(root: string, untrusted: string): string {
  // Absolute names are taken as relative to root (as tar does); any ".." that climbs above root is refused.
  const rel = normalize(untrusted.replace(/^\/+/, '') || '.').replace(/\/+$/, '');
  if (rel === '..' || rel.startsWith('../')) throw new InvalidArgument(`path escapes root: ${untrusted}`);
  const full = rel === '.' ? root : join(root, rel);
  if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new InvalidArgument(`path escapes root: ${untrusted}`);
  }
  return full;
}

/** Bytes of file content under `dir` (regular files and symlink targets, not directories), as Docker sizes a layer. */
export async function contentSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await contentSize(path);
    else if (e.isFile() || e.isSymbolicLink()) total += (await lstat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * Writes a stream's chunks to `fh` from offset 0, a MiB at a time in one writev each (no copy), one write in flight
 * while the next MiB gathers. Chunks come at 64 KiB from a socket; each write is a threadpool job, and on VMs the
 * wake-up of a job costs tens of µs. `seen` sees every chunk first (a hash; awaited when it returns a promise).
 * Returns the bytes written.
 */
export async function writeChunks(fh: FileHandle, body: AsyncIterable<Uint8Array>, seen?: (chunk: Buffer) => void | Promise<void>): Promise<number> {
  let pending: Buffer[] = [];
  let size = 0;
  let at = 0;
  let inflight: Promise<void> | undefined;
  const flush = async () => {
    const [bufs, want, pos] = [pending, size, at];
    pending = [];
    size = 0;
    at += want;
    await inflight; // in order, and at most one behind
    inflight = (async () => {
      const { bytesWritten } = await fh.writev(bufs, pos);
      if (bytesWritten !== want) throw new Error(`short write: ${bytesWritten} of ${want} bytes`);
    })();
    inflight.catch(() => {}); // awaited by the next flush or below
  };
  try {
    for await (const c of body) {
      const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      const taken = seen?.(chunk);
      if (taken) await taken;
      pending.push(chunk);
      size += chunk.length;
      if (size >= 1 << 20) await flush();
    }
    if (size) await flush();
  } finally {
    // Every write has settled before the caller closes the file, also when one failed.
    await inflight;
  }
  return at;
}
