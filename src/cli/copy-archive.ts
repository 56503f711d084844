// The local half of `berth cp`: Docker's copy rules (go-archive's CopyInfo, PrepareArchiveCopy, rebasing), a tar of
// a local path, and the extraction of a container's tar into a local directory.
import { createReadStream, constants } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readlink, realpath, rm, stat, symlink, utimes, lutimes, chmod } from 'node:fs/promises';
import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Header as Headers, extract as tarExtract, pack as tarPack } from 'tar-stream';
import { header, major, minor } from '../util/tar.js';
import { applyPaxXattrs, capabilityPax } from '../util/xattrs.js';
import { CliError } from './context.js';

/** What go-archive knows about either end of a copy. */
export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  /** The name the entry must have in the archive when following a symlink changed its last component. */
  rebaseName?: string;
}

/** Renames archive entries (applied while packing or extracting, never to a tar in between). */
export type Rename = (name: string) => string;
const same: Rename = (n) => n;

// ---- Go path rules (filepath.Base/Clean/Split) and Docker's trailing `/` and `/.` conventions -----------------

export function goClean(p: string): string {
  const c = posix.normalize(p);
  return c.length > 1 && c.endsWith('/') ? c.slice(0, -1) : c;
}

export function goBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  return trimmed === '' ? '/' : posix.basename(trimmed);
}

const hasTrailingSeparator = (p: string) => p.endsWith('/');
const specifiesCurrentDir = (p: string) => goBase(p) === '.';
/** A path that can only name a directory. */
export const assertsDirectory = (p: string) => hasTrailingSeparator(p) || specifiesCurrentDir(p);

/** Cleaning drops a trailing `/` or `/.` that says "a directory" or "its contents": put it back. */
export function preserveTrailingDotOrSeparator(cleaned: string, original: string): string {
  let out = cleaned;
  if (!specifiesCurrentDir(out) && specifiesCurrentDir(original)) out += hasTrailingSeparator(out) ? '.' : '/.';
  if (!hasTrailingSeparator(out) && hasTrailingSeparator(original)) out += '/';
  return out;
}

/** Directory and last entry, `.` kept as the entry for `dir/.`. */
export function splitPathDirEntry(p: string): [string, string] {
  let cleaned = goClean(p);
  if (specifiesCurrentDir(p)) cleaned += '/.';
  return [posix.dirname(cleaned), goBase(cleaned)];
}

/** The absolute form of a local path, trailing `/` or `/.` kept. */
export function resolveLocalPath(p: string): string {
  return preserveTrailingDotOrSeparator(posix.resolve(p), p);
}

/** After following a symlink: the resolved path with the original's trailing markers, and the name to rebase to. */
export function rebaseName(path: string, resolved: string): [string, string | undefined] {
  let out = resolved;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(out)) out += '/.';
  if (hasTrailingSeparator(path) && !hasTrailingSeparator(out)) out += '/';
  return [out, goBase(path) !== goBase(out) ? goBase(path) : undefined];
}

/** Entries under `oldBase` renamed to be under `newBase` (go-archive's RebaseArchiveEntries). */
export function rebaser(oldBase: string, newBase: string): Rename {
  const from = oldBase.replace(/\/+$/, '');
  const to = newBase.replace(/\/+$/, '');
  if (from === '') return (n) => (to ? `${to}/${n.replace(/^\/+/, '')}` : n.replace(/^\/+/, ''));
  return (n) => {
    if (!n.startsWith(from)) return n;
    const suffix = n.slice(from.length);
    return suffix === '' || suffix.startsWith('/') ? to + suffix : n;
  };
}

const notFound = (op: string, p: string) => new CliError(`${op} ${p}: no such file or directory`);

/** The local source: symlinks before the last component are resolved (all of them with `followLink`). */
export async function copyInfoSourcePath(path: string, followLink: boolean): Promise<CopyInfo> {
  let resolved: string;
  let rebase: string | undefined;
  if (followLink) {
    const real = await realpath(path).catch(() => {
      throw notFound('lstat', path);
    });
    [resolved, rebase] = rebaseName(path, real);
  } else {
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash + 1) || '.';
    const base = path.slice(slash + 1);
    const realDir = await realpath(dir).catch(() => {
      throw notFound('lstat', path);
    });
    resolved = `${realDir === '/' ? '' : realDir}/${base}`;
    if (hasTrailingSeparator(path) && goBase(path) !== goBase(resolved)) rebase = goBase(path);
  }
  const st = await lstat(resolved).catch(() => {
    throw notFound('lstat', resolved);
  });
  return { path: resolved, exists: true, isDir: st.isDirectory(), ...(rebase && { rebaseName: rebase }) };
}

/** The local destination: symlinks at it are followed; if missing, its parent must be an existing directory. */
export async function copyInfoDestinationPath(path: string): Promise<CopyInfo> {
  let current = path;
  let st = await lstat(current).catch(() => undefined);
  for (let n = 0; st?.isSymbolicLink(); n++) {
    if (n > 10) throw new CliError(`too many symlinks in ${path}`);
    let target = await readlink(current);
    if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(current)[0], target);
    current = target;
    st = await lstat(current).catch(() => undefined);
  }
  if (st) return { path: current, exists: true, isDir: st.isDirectory() };
  const parent = splitPathDirEntry(current)[0];
  const pst = await stat(parent).catch(() => {
    throw notFound('stat', parent);
  });
  if (!pst.isDirectory()) throw new CliError('not a directory');
  return { path: current, exists: false, isDir: false };
}

/**
 * Where to extract and how to rename, so that the copy lands where `cp -a` would put it: into an existing
 * directory as is, else at the destination's name (go-archive's PrepareArchiveCopy).
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dstDir: string; rename: Rename } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  const srcBase = src.rebaseName ?? splitPathDirEntry(src.path)[1];
  if (dst.exists && dst.isDir) return { dstDir: dst.path, rename: same };
  if (dst.exists && src.isDir) throw new CliError('cannot copy directory');
  if (!dst.exists && !src.isDir && assertsDirectory(dst.path)) throw new CliError('no such directory');
  return { dstDir, rename: rebaser(srcBase, dstBase) };
}

// ---- a tar of a local path ----------------------------------------------------------------------------------

/**
 * A tar of `src` named as Docker's TarResource names it: the last component (or the rebase name) for the entry
 * itself, `<name>/…` below a directory, each name then passed through `rename`. Owners and modes as on disk.
 */
export function tarLocal(src: CopyInfo, rename: Rename = same): Readable {
  const [dir, base] = splitPathDirEntry(src.path);
  const top = src.rebaseName ?? base;
  const out = tarPack();
  const pass = new PassThrough({ highWaterMark: 1 << 20 });
  const inodes = new Map<string, string>();
  const add = (h: Headers, body?: Readable) =>
    body
      ? pipeline(body, out.entry(h) as unknown as NodeJS.WritableStream)
      : new Promise<void>((resolve, reject) => {
          const done = (e?: Error | null) => (e ? reject(e) : resolve());
          if (h.type === 'file') out.entry(h, Buffer.alloc(0), done);
          else out.entry(h, done);
        });
  const visit = async (abs: string, name: string): Promise<void> => {
    const st = await lstat(abs);
    const h = header(rename(name), st);
    if (st.isDirectory()) {
      await add({ ...h, name: `${h.name}/`, type: 'directory' });
      for (const n of (await readdir(abs)).sort()) await visit(posix.join(abs, n), `${name}/${n}`);
    } else if (st.isSymbolicLink()) {
      await add({ ...h, type: 'symlink', linkname: await readlink(abs) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first) return add({ ...h, type: 'link', linkname: first });
      if (st.nlink > 1) inodes.set(key, h.name);
      const pax = await capabilityPax(abs);
      await add({ ...h, ...(pax && { pax }), type: 'file', size: st.size }, st.size > 0 ? createReadStream(abs, { end: st.size - 1, highWaterMark: 1 << 20 }) : undefined);
    } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      const type = st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block-device' : 'character-device';
      await add({ ...h, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
    }
  };
  (async () => {
    await visit(posix.join(dir, base), top);
    out.finalize();
  })().catch((e: Error) => out.destroy(e));
  out.on('error', (e: Error) => pass.destroy(e));
  out.pipe(pass);
  return pass;
}


// ---- extraction into a local directory -------------------------------------------------------------------------

/**
 * Extracts a container's tar into the local directory `dstDir` as the invoking user (owners are not restored),
 * refusing to replace a directory by a non-directory or the reverse, and any entry that would leave `dstDir`: a
 * `..` name, or a path through a symlink below `dstDir`. Device nodes and FIFOs are skipped.
 */
export async function untarLocal(input: Readable, dstDir: string, rename: Rename = same): Promise<void> {
  const ex = tarExtract();
  const dirTimes: Array<[string, Date]> = [];
  const consume = (async () => {
    for await (const entry of ex) {
      await writeLocal(dstDir, entry.header, entry as unknown as Readable, rename, dirTimes);
      entry.resume();
    }
  })();
  const feed = pipeline(input, ex as unknown as NodeJS.WritableStream);
  try {
    await Promise.all([feed, consume]);
  } catch (e) {
    ex.destroy();
    await Promise.allSettled([feed, consume]);
    throw e;
  }
  for (const [p, t] of dirTimes.reverse()) await utimes(p, t, t).catch(() => {});
}

/** The entry's local path under `dstDir`, its parent directories made, none of them a symlink. */
async function localTarget(dstDir: string, raw: string): Promise<string | undefined> {
  const name = posix.normalize(raw.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (name === '.' || name === '') return undefined;
  if (name === '..' || name.startsWith('../')) throw new CliError(`invalid entry name "${raw}"`);
  let cur = dstDir;
  for (const part of name.split('/').slice(0, -1)) {
    cur = posix.join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    if (!st) await mkdir(cur, { mode: 0o755 });
    else if (st.isSymbolicLink()) throw new CliError(`refusing to extract "${raw}" through the symlink ${cur}`);
    else if (!st.isDirectory()) throw new CliError(`cannot extract "${raw}": ${cur} is not a directory`);
  }
  return posix.join(dstDir, name);
}

async function writeLocal(dstDir: string, h: Headers, body: Readable, rename: Rename, dirTimes: Array<[string, Date]>): Promise<void> {
  const path = await localTarget(dstDir, rename(h.name));
  if (!path) return;
  const type = h.type ?? 'file';
  const existing = await lstat(path).catch(() => undefined);
  if (existing) {
    if (existing.isDirectory() !== (type === 'directory')) {
      throw new CliError(existing.isDirectory() ? `cannot overwrite directory "${path}" with non-directory "${h.name}"` : `cannot overwrite non-directory "${path}" with directory "${h.name}"`);
    }
    if (type !== 'directory') await rm(path, { force: true });
  }
  const mode = (h.mode ?? 0o644) & 0o7777;
  const mtime = h.mtime ?? new Date();
  switch (type) {
    case 'directory':
      if (!existing) await mkdir(path, { mode: 0o700 });
      await chmod(path, mode);
      dirTimes.push([path, mtime]);
      break;
    case 'file':
    case 'contiguous-file': {
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of body) await fh.write(chunk as Buffer);
        await fh.chmod(mode);
        await fh.utimes(mtime, mtime);
      } finally {
        await fh.close();
      }
      break;
    }
    case 'symlink':
      await symlink(h.linkname ?? '', path);
      await lutimes(path, mtime, mtime).catch(() => {});
      break;
    case 'link': {
      const target = await localTarget(dstDir, rename(h.linkname ?? ''));
      if (!target) throw new CliError(`invalid hard link target "${h.linkname}"`);
      await link(target, path);
      return;
    }
    default:
      return; // device nodes and FIFOs need mknod, which the CLI does not run
  }
  // After the content: writing a file drops its capabilities.
  await applyPaxXattrs(path, h);
}
