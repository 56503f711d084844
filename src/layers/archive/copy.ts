import { sha256Stream } from '../../util/hash-thread.js';
import { execFile } from 'node:child_process';
import { type Stats, constants } from 'node:fs';
import { type FileHandle, lchown, link, lstat, lutimes, mkdir, open, readdir, readlink, symlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { type Header as Headers, extract as tarExtract, pack as tarPack } from 'tar-stream';
import { Conflict, InvalidArgument, isBerthError, isNotExist, isSystemError } from '../../errors/index.js';
import { type Location, type ScopedRoot, components, fdPath, fdPathForChild, openDirAt, removeAt } from '../../kernel/scoped.js';
import { writeChunks } from '../../kernel/fs.js';
import { decompress } from './compression.js';
import { header, major, minor } from './pack.js';
import { applyPaxXattrs, capabilityPax } from '../../util/xattrs.js';

// Archives of paths inside a container's root (`docker cp`), read and written through kernel/scoped.ts so that no
// symlink, planted in advance or swapped in while we work, leads outside the root. Unlike layer tars (apply.ts),
// symlinks inside the root are followed where Docker follows them, but only ever to places inside the root.

const run = promisify(execFile);

/**
 * A tar of the entry at `loc` (stat `st`), named as Docker names it: a file or symlink as `name`; a directory as
 * `name/` followed by `name/<path>` for everything under it (`/` for the root: `/`, `/bin/`, …). Closes `loc` when
 * done. Owners are numeric; hard links inside the tree become link entries.
 */
export function packInRoot(loc: Location, st: Stats, name: string): Readable {
  const out = tarPack();
  const pass = new PassThrough({ highWaterMark: 1 << 20 });
  const packer = new ScopedPacker(out);
  (async () => {
    if (st.isDirectory()) {
      const prefix = name === '/' ? '' : name;
      const dir = await loc.openDir();
      try {
        await packer.add({ ...header(`${prefix}/`, st), type: 'directory' });
        await packer.walk(dir, prefix);
      } finally {
        await dir.close();
      }
    } else {
      await packer.entry(loc.dir, loc.name, name, st);
    }
    out.finalize();
  })()
    .catch((e: Error) => out.destroy(e))
    .finally(() => void loc.close().catch(() => {}));
  out.on('error', (e: Error) => pass.destroy(e));
  pass.on('close', () => out.destroy()); // a reader gone early stops the walk (and closes what it holds open)
  out.pipe(pass);
  return pass;
}

class ScopedPacker {
  /** First archived name of each multiply-linked inode. */
  private readonly inodes = new Map<string, string>();
  constructor(private readonly out: ReturnType<typeof tarPack>) {}

  add(h: Headers, body?: Readable): Promise<void> {
    if (body) {
      let entry: NodeJS.WritableStream;
      try {
        entry = this.out.entry(h) as unknown as NodeJS.WritableStream;
      } catch (e) {
        body.destroy(); // the pack is gone (its reader hung up): the body's file handle must close all the same
        throw e;
      }
      return pipeline(body, entry);
    }
    return new Promise<void>((resolve, reject) => {
      const done = (e?: Error | null) => (e ? reject(e) : resolve());
      if (h.type === 'file') this.out.entry(h, Buffer.alloc(0), done);
      else this.out.entry(h, done);
    });
  }

  async walk(dir: FileHandle, prefix: string): Promise<void> {
    for (const n of (await readdir(fdPath(dir))).sort()) {
      // A running container may change the tree meanwhile: what vanished or changed type is left out, as
      // dockerd does, rather than failing the whole archive.
      const st = await lstat(fdPath(dir, n)).catch(skipIfChanged);
      if (!st) continue;
      const name = `${prefix}/${n}`;
      if (!st.isDirectory()) {
        await this.entry(dir, n, name, st);
        continue;
      }
      const sub = await openDirAt(dir, n).catch(skipIfChanged);
      if (!sub) continue;
      try {
        await this.add({ ...header(`${name}/`, st), type: 'directory' });
        await this.walk(sub, name);
      } finally {
        await sub.close();
      }
    }
  }

  /** One non-directory entry `n` of `dir`. */
  async entry(dir: FileHandle, n: string, name: string, st: Stats): Promise<void> {
    const h = header(name, st);
    if (st.isSymbolicLink()) return this.add({ ...h, type: 'symlink', linkname: await readlink(fdPath(dir, n)) });
    if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      const type = st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block-device' : 'character-device';
      return this.add({ ...h, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
    }
    if (!st.isFile()) return; // sockets are not archived, as in Docker
    const fh = await open(fdPath(dir, n), constants.O_RDONLY | constants.O_NOFOLLOW).catch(skipIfChanged);
    if (!fh) return;
    let handedOver = false;
    try {
      const fst = await fh.stat(); // what was opened, not what the lstat saw
      if (!fst.isFile()) return;
      const key = `${fst.dev}:${fst.ino}`;
      const first = fst.nlink > 1 ? this.inodes.get(key) : undefined;
      if (first) return this.add({ ...header(name, fst), type: 'link', linkname: first, size: 0 });
      if (fst.nlink > 1) this.inodes.set(key, name);
      // The stream closes the handle when it ends or fails. Exactly the stat's size is read: a file growing
      // meanwhile is cut, one shrinking fails the archive (as in Docker).
      handedOver = fst.size > 0;
      const pax = await capabilityPax(fdPath(dir, n));
      await this.add({ ...header(name, fst), ...(pax && { pax }), type: 'file', size: fst.size }, fst.size > 0 ? fh.createReadStream({ start: 0, end: fst.size - 1, highWaterMark: 1 << 20 }) : undefined);
    } finally {
      if (!handedOver) await fh.close();
    }
  }
}

/** An entry removed, or swapped for a symlink or a non-directory, since it was listed: undefined, to skip it. */
function skipIfChanged(e: unknown): undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
  throw e;
}

export interface ExtractOptions {
  /** Fail instead of replacing a directory by a non-directory, or the reverse (the docker CLI asks for it). */
  noOverwriteDirNonDir?: boolean;
  /** Owner for everything extracted (`cp -a` into a container with a user), else the tar's numeric owners. */
  owner?: { uid: number; gid: number };
  /** Filled with the sha256 (hex) of each regular file's content, by its name under `dest`, hashed as it is written. */
  digests?: Map<string, string>;
  /** Told each entry's name (under `dest`, normalized) once it is written whole. */
  written?: (name: string) => void;
}

/**
 * Extracts a tar (plain, gzip or zstd) into the directory `dest` (components from the root, as resolved by the
 * caller). Entry names are relative to `dest` (a leading `/` is dropped); a name climbing out of it with `..` is
 * refused; symlinks met on the way are followed inside the root, never outside it. Existing entries are replaced
 * (directories merged), missing parent directories are created.
 */
export async function extractInRoot(root: ScopedRoot, dest: string[], input: Readable, opts: ExtractOptions = {}): Promise<void> {
  const ex = tarExtract();
  const writer = new ScopedWriter(root, dest, opts);
  let current: Readable | undefined;
  const consume = (async () => {
    for await (const entry of ex) {
      current = entry as unknown as Readable;
      await writer.write(entry.header, current);
      entry.resume();
    }
  })();
  const feed = pipeline(decompress(input), ex as unknown as NodeJS.WritableStream);
  try {
    await Promise.all([feed, consume]);
    await writer.finish();
  } catch (e) {
    ex.destroy();
    current?.destroy(e as Error);
    await Promise.allSettled([feed, consume]);
    if (isBerthError(e) || isSystemError(e)) throw e;
    throw new InvalidArgument(`invalid tar: ${(e as Error).message}`, { cause: e });
  } finally {
    await writer.close();
  }
}

class ScopedWriter {
  /** The directory of the previous entry, kept open: tars list siblings together. */
  private cached: { rel: string; dir: FileHandle; parts: string[] } | undefined;
  /** Directories made or merged, with their mtimes: set last, since writing inside a directory changes its mtime. */
  private readonly dirTimes: Array<[string[], Date]> = [];

  constructor(
    private readonly root: ScopedRoot,
    private readonly dest: string[],
    private readonly opts: ExtractOptions,
  ) {}

  async write(h: Headers, body: Readable): Promise<void> {
    const name = posix.normalize(h.name.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (name === '.' || name === '') return;
    if (name === '..' || name.startsWith('../')) throw new InvalidArgument(`invalid entry name "${h.name}"`);
    if (!knownTypes.has(h.type ?? 'file')) return;
    try {
      await this.writeEntry(name, h, body);
      this.opts.written?.(name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code && ['ENOTDIR', 'ELOOP', 'ENOENT', 'EEXIST', 'EISDIR', 'ENOTEMPTY'].includes(code)) {
        throw new InvalidArgument(`cannot extract "${h.name}": ${reasons[code] ?? code}`);
      }
      throw e;
    }
  }

  private async writeEntry(name: string, h: Headers, body: Readable): Promise<void> {
    const rel = posix.dirname(name) === '.' ? '' : posix.dirname(name);
    const base = posix.basename(name);
    await this.forget(name); // this entry may replace the directory kept open
    const { dir, parts } = await this.parentDir(rel);
    const path = fdPath(dir, base);
    const existing = await lstat(path).catch((e: unknown) => {
      if (isNotExist(e)) return undefined;
      throw e;
    });
    const isDir = h.type === 'directory';
    if (existing) {
      if (this.opts.noOverwriteDirNonDir && existing.isDirectory() !== isDir) {
        const [what, by] = isDir ? ['non-directory', 'directory'] : ['directory', 'non-directory'];
        throw new Conflict(`cannot overwrite ${what} "/${[...parts, base].join('/')}" with ${by} "${h.name}"`);
      }
      if (!(existing.isDirectory() && isDir)) await removeAt(dir, base);
    }
    const uid = this.opts.owner?.uid ?? h.uid ?? 0;
    const gid = this.opts.owner?.gid ?? h.gid ?? 0;
    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = h.mtime ?? new Date();
    switch (h.type ?? 'file') {
      case 'directory': {
        if (!existing?.isDirectory()) await mkdir(path, { mode: 0o700 });
        const fh = await openDirAt(dir, base);
        try {
          await setOwnerAndMode(fh, uid, gid, mode);
        } finally {
          await fh.close();
        }
        this.dirTimes.push([[...parts, base], mtime]);
        break;
      }
      case 'file':
      case 'contiguous-file': {
        // O_EXCL|O_NOFOLLOW: never write through whatever appeared at the name since it was removed.
        const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          const hash = this.opts.digests && sha256Stream('worker', h.size ?? 0);
          await writeChunks(fh, body, hash && ((c) => hash.update(c)));
          if (hash) this.opts.digests?.set(name, await hash.digest());
          await setOwnerAndMode(fh, uid, gid, mode);
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        break;
      }
      case 'symlink':
        await symlink(h.linkname ?? '', path);
        await lchown(path, uid, gid);
        await lutimes(path, mtime, mtime);
        break;
      case 'link':
        await this.hardLink(h, path);
        return; // the link shares its target's inode: owner, mode and times are the target's
      default: {
        const kind = h.type === 'fifo' ? ['p'] : [h.type === 'block-device' ? 'b' : 'c', String(h.devmajor ?? 0), String(h.devminor ?? 0)];
        // mknod sets the mode itself (without following a symlink): a chmod by path could be redirected.
        await run('mknod', ['-m', mode.toString(8), fdPathForChild(dir, base), ...kind]);
        await lchown(path, uid, gid);
        await lutimes(path, mtime, mtime);
      }
    }
    await applyPaxXattrs(fdPath(dir, base), h);
  }

  /** Hard links name their target relative to the extraction directory; it must be a non-directory in the root. */
  private async hardLink(h: Headers, path: string): Promise<void> {
    const target = posix.normalize((h.linkname ?? '').replace(/^\/+/, ''));
    if (target === '.' || target === '..' || target.startsWith('../')) throw new InvalidArgument(`invalid hard link target "${h.linkname}"`);
    const loc = await this.root.locate(`/${[...this.dest, ...components(target)].join('/')}`);
    try {
      const st = await loc.lstat();
      if (st.isDirectory()) throw new InvalidArgument(`invalid hard link target "${h.linkname}": a directory`);
      await link(loc.path, path);
    } finally {
      await loc.close();
    }
  }

  /** The directory `rel` under the destination (made if missing, symlinks followed inside the root). */
  private async parentDir(rel: string): Promise<{ dir: FileHandle; parts: string[] }> {
    if (this.cached?.rel === rel) return this.cached;
    await this.forget('');
    const loc = await this.root.locate(`/${[...this.dest, ...components(rel)].join('/')}`, { followLast: true, create: true });
    try {
      if (loc.name) {
        await mkdir(loc.path, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
      }
      this.cached = { rel, dir: await loc.openDir(), parts: loc.parts };
      return this.cached;
    } finally {
      await loc.close();
    }
  }

  /** Closes the kept directory if it is `name` or lies under it ('' forgets it in any case). */
  private async forget(name: string): Promise<void> {
    const c = this.cached;
    if (!c || (name !== '' && c.rel !== name && !c.rel.startsWith(`${name}/`))) return;
    this.cached = undefined;
    await c.dir.close();
  }

  async finish(): Promise<void> {
    await this.forget('');
    for (const [parts, mtime] of this.dirTimes.reverse()) {
      const fh = await this.root.openParts(parts).catch(() => undefined); // gone or replaced since: nothing to date
      if (!fh) continue;
      try {
        await fh.utimes(mtime, mtime);
      } finally {
        await fh.close();
      }
    }
  }

  close(): Promise<void> {
    return this.forget('');
  }
}

const knownTypes = new Set(['file', 'contiguous-file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);
const reasons: Record<string, string> = {
  ENOTDIR: 'a path component is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENOENT: 'no such file or directory',
  EEXIST: 'file exists',
  EISDIR: 'is a directory',
  ENOTEMPTY: 'directory not empty',
};

/** chown first: it clears setuid and setgid bits, which the chmod then sets. */
async function setOwnerAndMode(fh: FileHandle, uid: number, gid: number, mode: number): Promise<void> {
  await fh.chown(uid, gid);
  await fh.chmod(mode);
}

