import { type BigIntStats, type Stats, constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, readlink, rmdir, stat, unlink } from 'node:fs/promises';
import { isNotExist } from '../errors/index.js';

/**
 * Paths inside a container's root filesystem, resolved as a process chrooted there would see them, and safe against
 * a container that swaps directories for symlinks while we work (CVE-2018-15664, docker cp's race).
 *
 * Node has no openat2(RESOLVE_IN_ROOT), so it is emulated: every step opens one component relative to an open
 * directory (`/proc/self/fd/N/name`) with O_NOFOLLOW|O_DIRECTORY; a symlink met on the way is read and its target
 * resolved again from the root (absolute) or from where it stands (relative), and `..` never climbs above the
 * root. Operations then act on one component inside an open directory, which the kernel never resolves through
 * a symlink, so nothing can reach outside the root, whatever the container does meanwhile.
 */

const dirFlags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Reopening an open directory through its /proc magic link, which O_NOFOLLOW would refuse to follow. */
const reopenFlags = constants.O_RDONLY | constants.O_DIRECTORY;
/** Linux's limit on symlinks followed while resolving one path. */
const maxSymlinks = 40;

/** `name` inside an open directory, for calls that do not follow their last component (lstat, mkdir, symlink…). */
export function fdPath(dir: FileHandle, name = ''): string {
  return name ? `/proc/self/fd/${dir.fd}/${name}` : `/proc/self/fd/${dir.fd}`;
}

/** The same for child processes (mknod): they reach our descriptors through our pid. */
export function fdPathForChild(dir: FileHandle, name = ''): string {
  return `/proc/${process.pid}/fd/${dir.fd}${name ? `/${name}` : ''}`;
}

/** Opens a directory entry as a directory, refusing a symlink (ELOOP) or a non-directory (ENOTDIR). */
export function openDirAt(dir: FileHandle, name: string): Promise<FileHandle> {
  return open(fdPath(dir, name), dirFlags);
}

/** Path components, without empty ones and `.`. */
export function components(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

function fsError(code: 'ENOENT' | 'ENOTDIR' | 'ELOOP', path: string): NodeJS.ErrnoException {
  const text = { ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', ELOOP: 'too many levels of symbolic links' }[code];
  return Object.assign(new Error(`${path}: ${text}`), { code, path });
}

export interface ResolveOptions {
  /** Follow a symlink in the last position too (a trailing `/` or `/.` asks for it). */
  followLast?: boolean;
  /** Make missing directories on the way (mode 0755), as extraction does. */
  create?: boolean;
}

/**
 * A path resolved inside the root: its parent directory, open, and its last component (which may not exist, and
 * is '' when the path is a directory reached without a last name, such as `/` or `a/..`). The caller closes it.
 */
export class Location {
  constructor(
    readonly dir: FileHandle,
    readonly name: string,
    /** Components from the root to this entry, symlink-free. */
    readonly parts: string[],
  ) {}

  /** For calls that must not follow the last component. */
  get path(): string {
    return fdPath(this.dir, this.name);
  }

  /** lstat of the entry (for '', the directory itself: its magic link must then be followed). */
  lstat(): Promise<Stats>;
  lstat(o: { bigint: true }): Promise<BigIntStats>;
  lstat(o?: { bigint: true }): Promise<Stats | BigIntStats> {
    const opts = { bigint: !!o?.bigint };
    return this.name ? lstat(this.path, opts) : stat(this.path, opts);
  }

  /** The entry as seen from inside the container. */
  get containerPath(): string {
    return `/${this.parts.join('/')}`;
  }

  /** Opens the entry itself as a directory (refusing a symlink). */
  openDir(): Promise<FileHandle> {
    return this.name ? openDirAt(this.dir, this.name) : open(fdPath(this.dir), reopenFlags);
  }

  close(): Promise<void> {
    return this.dir.close();
  }
}

/** A root directory (a container's mounted rootfs) and the resolution of paths inside it. */
export class ScopedRoot {
  private constructor(private readonly top: FileHandle) {}

  /** Opens `root`, a host path the caller trusts (symlinks in it are followed). */
  static async open(root: string): Promise<ScopedRoot> {
    return new ScopedRoot(await open(root, constants.O_RDONLY | constants.O_DIRECTORY));
  }

  close(): Promise<void> {
    return this.top.close();
  }

  /** Runs `fn` with the root open, closing it after. */
  static async with<T>(root: string, fn: (r: ScopedRoot) => Promise<T>): Promise<T> {
    const r = await ScopedRoot.open(root);
    try {
      return await fn(r);
    } finally {
      await r.close();
    }
  }

  /** Opens the directory at `parts` (components from the root, none `..`), one component at a time. */
  async openParts(parts: string[]): Promise<FileHandle> {
    let dir = await open(fdPath(this.top), reopenFlags);
    try {
      for (const p of parts) {
        const next = await openDirAt(dir, p);
        await dir.close();
        dir = next;
      }
      return dir;
    } catch (e) {
      await dir.close();
      throw e;
    }
  }

  /**
   * Resolves `path` (from the root; a leading `/` changes nothing) as `chroot(root)` would. Missing intermediate
   * directories fail with ENOENT unless `create`; the last component need not exist.
   */
  async locate(path: string, o: ResolveOptions = {}): Promise<Location> {
    const r = await this.walk(path, o, false);
    return new Location(r.dir, r.name, r.parts);
  }

  /**
   * Where `path` leads inside the container with every symlink followed, as far as possible when some component is
   * missing (the rest is then taken as written): what Docker reports as a symlink's `linkTarget`.
   */
  async realPath(path: string): Promise<string> {
    const r = await this.walk(path, { followLast: true }, true);
    await r.dir.close();
    return `/${r.parts.join('/')}`;
  }

  /** The content of the file at `path` (symlinks followed inside the root), or undefined when there is none. */
  async readFile(path: string): Promise<Buffer | undefined> {
    const loc = await this.locate(path, { followLast: true }).catch((e: unknown) => {
      if (isNotExist(e)) return undefined;
      throw e;
    });
    if (!loc) return undefined;
    try {
      const fh = await open(loc.path, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: unknown) => {
        if (isNotExist(e)) return undefined;
        throw e;
      });
      if (!fh) return undefined;
      try {
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } finally {
      await loc.close();
    }
  }

  private async walk(path: string, o: ResolveOptions, lenient: boolean): Promise<{ dir: FileHandle; name: string; parts: string[] }> {
    const todo = components(path);
    let dir = await this.openParts([]);
    let parts: string[] = [];
    let links = 0;
    try {
      while (todo.length > 0) {
        const comp = todo.shift() as string;
        if (comp === '..') {
          if (parts.length > 0) dir = await this.replace(dir, (parts = parts.slice(0, -1)));
          continue;
        }
        const last = todo.length === 0;
        const st = await lstat(fdPath(dir, comp)).catch((e: unknown) => {
          if (isNotExist(e)) return undefined;
          throw e;
        });
        if (st?.isSymbolicLink() && (!last || o.followLast)) {
          if (++links > maxSymlinks) throw fsError('ELOOP', path);
          const target = await readlink(fdPath(dir, comp));
          todo.unshift(...components(target));
          if (target.startsWith('/') && parts.length > 0) dir = await this.replace(dir, (parts = []));
          continue;
        }
        if (last) return { dir, name: comp, parts: [...parts, comp] };
        if (!st) {
          if (lenient) return { dir, name: '', parts: lexical([...parts, comp], todo) };
          if (!o.create) throw fsError('ENOENT', path);
          await mkdir(fdPath(dir, comp), { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== 'EEXIST') throw e;
          });
        } else if (!st.isDirectory()) {
          throw fsError('ENOTDIR', path);
        }
        const next = await openDirAt(dir, comp); // refuses a symlink swapped in since the lstat
        await dir.close();
        dir = next;
        parts.push(comp);
      }
      return { dir, name: '', parts };
    } catch (e) {
      await dir.close();
      throw e;
    }
  }

  private async replace(dir: FileHandle, parts: string[]): Promise<FileHandle> {
    await dir.close();
    return this.openParts(parts);
  }
}

/** Continues a path lexically (past a missing directory nothing can be a symlink): `..` drops a component. */
function lexical(parts: string[], rest: string[]): string[] {
  const out = [...parts];
  for (const c of rest) {
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

/** Removes `name` in `dir` and, for a directory, everything under it, without ever following a symlink. */
export async function removeAt(dir: FileHandle, name: string): Promise<void> {
  const path = fdPath(dir, name);
  const st = await lstat(path);
  if (!st.isDirectory()) return unlink(path);
  const sub = await openDirAt(dir, name);
  try {
    for (const child of await readdir(fdPath(sub))) await removeAt(sub, child);
  } finally {
    await sub.close();
  }
  await rmdir(path);
}
