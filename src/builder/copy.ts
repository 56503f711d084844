import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type Stats, constants, createWriteStream } from 'node:fs';
import { type FileHandle, copyFile, lchown, link, lutimes, mkdir, open, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { InvalidArgument, isNotExist } from '../errors/index.js';
import { ScopedRoot, components, fdPath, fdPathForChild, openDirAt, removeAt } from '../kernel/scoped.js';
import { extractInRoot } from '../layers/index.js';
import { decompressAny, isTarHeader, peek, sniffCompression } from './context.js';
import { lstatOrUndefined } from './ignore.js';

const run = promisify(execFile);

/** One thing a COPY or ADD reads: a file or a directory (whose contents are copied) inside its root. */
export interface Source {
  /** Path relative to its root, every symlink resolved (inside the root): what is read. */
  path: string;
  /** The name the copy takes inside a destination directory (the last component as written in the instruction). */
  name: string;
  /** A directory: its contents are copied, not itself. */
  dir: boolean;
  /** ADD of a URL: where it came from (such a download is never extracted). */
  url?: string;
}

type Instruction = 'COPY' | 'ADD';

/** A pattern holds Go filepath.Match wildcards (`*`, `?`, `[`) not escaped with `\`. */
export function hasWildcards(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.charAt(i) === '\\') i++;
    else if ('*?['.includes(pattern.charAt(i))) return true;
  }
  return false;
}

/** Go's filepath.Match for one path component, as a RegExp (undefined for a malformed pattern, which matches nothing). */
export function componentMatcher(pattern: string): RegExp | undefined {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (++i >= pattern.length) return undefined;
      re += escapeRe(pattern.charAt(i));
    } else if (c === '[') {
      let j = i + 1;
      let cls = '[';
      if (pattern.charAt(j) === '^') {
        cls += '^';
        j++;
      }
      let first = true;
      for (; j < pattern.length && (first || pattern.charAt(j) !== ']'); j++, first = false) {
        let ch = pattern.charAt(j);
        if (ch === '\\') ch = pattern.charAt(++j);
        if (ch === '' || ch === '/') return undefined;
        cls += escapeClass(ch);
        if (pattern.charAt(j + 1) === '-' && pattern.charAt(j + 2) !== ']' && j + 2 < pattern.length) {
          let hi = pattern.charAt(j + 2);
          j += 2;
          if (hi === '\\') hi = pattern.charAt(++j);
          if (!hi || hi < ch) return undefined;
          cls += `-${escapeClass(hi)}`;
        }
      }
      if (pattern.charAt(j) !== ']' || first) return undefined;
      re += `${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`, 's');
}
const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
const escapeClass = (c: string) => c.replace(/[\]\\^-]/g, '\\$&');

/** A pattern relative to its root, as Docker cleans it: a leading `/` means the root, `.` and `..` folded. */
function cleanPattern(pattern: string): string {
  const p = posix.normalize(`./${pattern.replace(/^\/+/, '')}`).replace(/\/+$/, '');
  return p === '' ? '.' : p;
}

/**
 * Docker's COPY/ADD sources: paths relative to `root` (the context, or a stage's or image's root for --from),
 * wildcards matched per component like Go's filepath.Match, symlinks named directly followed inside the root.
 * Docker's errors: nothing matched, a missing file, a path climbing out of the context.
 */
export async function resolveSources(root: string, patterns: string[], o: { allowWildcards: boolean; instruction?: Instruction }): Promise<Source[]> {
  const ins = o.instruction ?? 'COPY';
  const out: Source[] = [];
  await ScopedRoot.with(root, async (r) => {
    for (const pattern of patterns) {
      const clean = cleanPattern(pattern);
      if (clean === '..' || clean.startsWith('../')) throw new InvalidArgument(`${ins} failed: forbidden path outside the build context: ${pattern} ()`);
      if (o.allowWildcards && hasWildcards(clean)) {
        const found = await expand(r, [], clean.split('/'));
        if (found.length === 0) throw new InvalidArgument(`${ins} failed: no source files were specified`);
        for (const f of found) {
          const s = await statSource(r, f.join('/'), f.at(-1) ?? '');
          if (s) out.push(s);
        }
        continue;
      }
      const s = await statSource(r, clean, clean === '.' ? '' : posix.basename(clean));
      if (!s) throw new InvalidArgument(`${ins} failed: file not found in build context or excluded by .dockerignore: stat ${clean}: file does not exist`);
      out.push(s);
    }
  });
  return out;
}

/** The source at `path` with symlinks followed inside the root, or undefined when it does not exist. */
async function statSource(r: ScopedRoot, path: string, name: string): Promise<Source | undefined> {
  const loc = await r.locate(path, { followLast: true }).catch(missing);
  if (!loc) return undefined;
  try {
    const st = await loc.lstat().catch(missing);
    if (!st) return undefined;
    return { path: loc.parts.join('/'), name, dir: st.isDirectory() };
  } finally {
    await loc.close();
  }
}

function missing(e: unknown): undefined {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
  throw e;
}

/** Paths matching `rest` below the directory `at`, in lexical order (Docker walks the tree the same way). */
async function expand(r: ScopedRoot, at: string[], rest: string[]): Promise<string[][]> {
  if (rest.length === 0) return [at];
  const head = rest[0] ?? '';
  const tail = rest.slice(1);
  if (!hasWildcards(head)) {
    const lit = head.replace(/\\(.)/g, '$1');
    if (tail.length === 0) return [[...at, lit]]; // existence is checked by the caller
    return expand(r, [...at, lit], tail);
  }
  const re = componentMatcher(head);
  if (!re) return [];
  // Like Docker's walk, directories are entered as they are, not through symlinks.
  const dir = await r.openParts(at).catch((e: unknown) => (['ENOENT', 'ENOTDIR', 'ELOOP'].includes((e as NodeJS.ErrnoException).code ?? '') ? undefined : Promise.reject(e)));
  if (!dir) return [];
  let names: string[];
  try {
    names = (await readdir(fdPath(dir))).sort();
  } finally {
    await dir.close();
  }
  const out: string[][] = [];
  for (const n of names) if (re.test(n)) out.push(...(await expand(r, [...at, n], tail)));
  return out;
}

/** Runs `fn` over `items` with at most `n` at once (file reads overlap; the machine has few cores). */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++] as T);
  }));
}

/**
 * A digest of everything a copy of `sources` reads and keeps: names relative to each source, types, permission
 * bits (with setuid/setgid/sticky), file contents and symlink targets. Not owners: the copy gives files to root or
 * to --chown whatever their owner in the context (a checkout by another user must not miss the cache); not times:
 * a `touch` or a fresh checkout must not either. Docker's classic tarsum hashes much the same (with owners).
 */
export async function hashSources(root: string, sources: Source[], known?: ReadonlyMap<string, string>): Promise<string> {
  const all = createHash('sha256');
  await ScopedRoot.with(root, async (r) => {
    for (const s of sources) {
      all.update(`source ${JSON.stringify(s.name)} ${s.dir ? 'dir' : 'file'}\n`);
      const parts = components(s.path);
      const dir = await r.openParts(s.dir ? parts : parts.slice(0, -1));
      try {
        const lines: string[] = [];
        // Content digests already known (the context's, hashed as it was unpacked) are keyed by path in the root.
        const digestOf = (rel: string) => known?.get(s.dir ? [...parts, ...rel.split('/')].join('/') : parts.join('/'));
        if (s.dir) await hashDir(dir, '', lines, digestOf);
        else lines.push(await hashEntry(dir, parts.at(-1) ?? '', '.', digestOf));
        for (const l of lines) all.update(`${l}\n`);
      } finally {
        await dir.close();
      }
    }
  });
  return all.digest('hex');
}

type KnownDigest = (rel: string) => string | undefined;

async function hashDir(dir: FileHandle, prefix: string, lines: string[], known: KnownDigest): Promise<void> {
  const names = (await readdir(fdPath(dir))).sort();
  const slots: string[] = new Array(names.length);
  const subdirs: number[] = [];
  await pool(names.map((n, i) => [n, i] as const), 8, async ([n, i]) => {
    const line = await hashEntry(dir, n, prefix + n, known);
    slots[i] = line;
    if (line.startsWith('d ')) subdirs.push(i);
  });
  // Each directory's line comes before its contents, in name order, whatever order the reads finished in.
  const inner = new Map<number, string[]>();
  for (const i of subdirs) {
    const sub = await openDirAt(dir, names[i] as string);
    const l: string[] = [];
    try {
      await hashDir(sub, `${prefix}${names[i] as string}/`, l, known);
    } finally {
      await sub.close();
    }
    inner.set(i, l);
  }
  names.forEach((_, i) => lines.push(slots[i] as string, ...(inner.get(i) ?? [])));
}

/** One line for the entry `n` of `dir`, shown as `rel`: its type, permission bits and content digest or target. */
async function hashEntry(dir: FileHandle, n: string, rel: string, known: KnownDigest): Promise<string> {
  const path = fdPath(dir, n);
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ELOOP') return undefined; // a symlink
    throw e;
  });
  const name = JSON.stringify(rel);
  if (!fh) return `l ${name} ${JSON.stringify(await readlink(path))}`;
  try {
    const st = await fh.stat();
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) return `d ${name} ${mode}`;
    if (!st.isFile()) return `s ${name} ${mode} ${st.mode & constants.S_IFMT} ${st.rdev}`;
    const digest = known(rel);
    if (digest !== undefined) return `f ${name} ${mode} ${digest}`;
    const h = createHash('sha256');
    if (st.size > 0) {
      for await (const c of fh.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 })) h.update(c as Buffer);
    }
    return `f ${name} ${mode} ${h.digest('hex')}`;
  } finally {
    await fh.close();
  }
}

/** `file`, `dir` or `multi`: how Docker's history names a COPY's sources (`COPY file:<hash> in /x`). */
export function sourceKind(sources: Source[]): 'file' | 'dir' | 'multi' {
  if (sources.length !== 1) return 'multi';
  return sources[0]?.dir ? 'dir' : 'file';
}

export interface CopyOptions {
  /** Where the sources are read: the context, or a stage's or image's root (COPY --from). */
  fromRoot: string;
  sources: Source[];
  /** The root filesystem written to: `dest` and every symlink on the way are resolved inside it. */
  rootfs: string;
  /** Absolute path in the rootfs; a trailing `/` makes it a directory. */
  dest: string;
  /** Owner of everything copied and of the directories made for it (default root). */
  chown?: { uid: number; gid: number };
  /** Permission bits of everything copied (BuildKit's --chmod), else each source's own. */
  chmod?: number;
  /** ADD: a local tar (plain, gzip, bzip2, xz) is unpacked into `dest` instead of copied. */
  extractArchives: boolean;
  /** For the error texts (default COPY). */
  instruction?: Instruction;
}

/**
 * Docker's COPY/ADD into a root filesystem: a directory source's contents merge into `dest`; a single file goes to
 * `dest` itself unless it ends with `/` or is an existing directory; several sources need a directory `dest`.
 * Missing directories on the way are made 0755, owned like the copy. Files keep their mode and times, get root (or
 * --chown) as owner; symlinks stay symlinks (those named as sources were followed when resolved).
 */
export async function copyIntoRoot(o: CopyOptions): Promise<void> {
  const ins = o.instruction ?? 'COPY';
  const owner = o.chown ?? { uid: 0, gid: 0 };
  if (o.sources.length > 1 && !o.dest.endsWith('/')) {
    throw new InvalidArgument(`When using ${ins} with more than one source file, the destination must be a directory and end with a /`);
  }
  await ScopedRoot.with(o.fromRoot, (src) =>
    ScopedRoot.with(o.rootfs, async (dst) => {
      const copier = new Copier(owner, o.chmod);
      for (const s of o.sources) {
        const parts = components(s.path);
        if (s.dir) {
          const to = await makeDirs(dst, o.dest, owner);
          const from = await src.openParts(parts);
          const into = await dst.openParts(to).catch(async (e: unknown) => {
            await from.close();
            throw e;
          });
          try {
            await copier.contents(from, into);
          } finally {
            await Promise.all([from.close(), into.close()]);
          }
          continue;
        }
        const parent = await src.openParts(parts.slice(0, -1));
        try {
          const base = parts.at(-1) ?? '';
          if (o.extractArchives && !s.url && (await isArchive(parent, base))) {
            const to = await makeDirs(dst, o.dest, owner);
            const fh = await open(fdPath(parent, base), constants.O_RDONLY | constants.O_NOFOLLOW);
            const { stream } = await decompressAny(fh.createReadStream({ highWaterMark: 1 << 20 }));
            // Docker keeps the archive's owners: --chown does not apply to what ADD unpacks.
            await extractInRoot(dst, to, stream);
            continue;
          }
          let target = o.dest;
          if (!target.endsWith('/') && (await isDir(dst, target))) target += '/';
          if (target.endsWith('/')) {
            if (!s.name) throw new InvalidArgument(`cannot determine filename from url: ${s.url ?? s.path}`);
            target += s.name;
          }
          const to = await makeDirs(dst, posix.dirname(posix.normalize(`/${target}`)), owner);
          const into = await dst.openParts(to);
          try {
            await copier.entry(parent, base, into, posix.basename(target));
          } finally {
            await into.close();
          }
        } finally {
          await parent.close();
        }
      }
    }),
  );
}

/** Whether `path` is a directory in the root (symlinks followed inside it). */
async function isDir(r: ScopedRoot, path: string): Promise<boolean> {
  const loc = await r.locate(path, { followLast: true }).catch(missing);
  if (!loc) return false;
  try {
    return (await loc.lstat().catch(missing))?.isDirectory() ?? false;
  } finally {
    await loc.close();
  }
}

/**
 * Makes the directory `path` and its missing parents inside the root, 0755 and owned by `owner` (Docker gives the
 * directories it makes for a COPY --chown to that user); existing ones are left as they are. Returns its components.
 */
async function makeDirs(r: ScopedRoot, path: string, owner: { uid: number; gid: number }): Promise<string[]> {
  const want = components(path);
  for (let i = 1; i <= want.length; i++) {
    const loc = await r.locate(want.slice(0, i).join('/'), { followLast: true });
    try {
      if (!loc.name) continue;
      const st = await lstatOrUndefined(loc.path);
      if (st?.isDirectory()) continue;
      if (st) throw Object.assign(new Error(`${loc.containerPath}: not a directory`), { code: 'ENOTDIR' });
      await mkdir(loc.path, { mode: 0o755 });
      const fh = await openDirAt(loc.dir, loc.name);
      try {
        await fh.chown(owner.uid, owner.gid);
        await fh.chmod(0o755); // the umask narrowed mkdir's mode
      } finally {
        await fh.close();
      }
    } finally {
      await loc.close();
    }
  }
  const loc = await r.locate(path, { followLast: true });
  try {
    return loc.parts;
  } finally {
    await loc.close();
  }
}

/** Whether the file `n` in `dir` is a tar, plain or compressed (gzip, bzip2, xz), as ADD unpacks. */
async function isArchive(dir: FileHandle, n: string): Promise<boolean> {
  const fh = await open(fdPath(dir, n), constants.O_RDONLY | constants.O_NOFOLLOW);
  const raw = fh.createReadStream({ highWaterMark: 64 << 10 });
  try {
    const head = (await peek(raw, 6)).head;
    // zstd: dockerd 20.10 copies it as a file rather than unpack it.
    const kind = sniffCompression(head);
    if (kind === 'zstd') return false;
    raw.destroy();
    const again = await open(fdPath(dir, n), constants.O_RDONLY | constants.O_NOFOLLOW);
    const { stream } = await decompressAny(again.createReadStream({ highWaterMark: 64 << 10 }));
    try {
      const block = (await peek(stream, 512).catch(() => ({ head: Buffer.alloc(0) }))).head;
      return isTarHeader(block) && !block.every((b) => b === 0);
    } finally {
      stream.destroy();
    }
  } finally {
    raw.destroy();
  }
}

/** Copies entries between open directories, never through a symlink on either side. */
class Copier {
  /** Host path of the copy of each multiply-linked source inode: hard links stay hard links. */
  private readonly linked = new Map<string, Promise<string>>();

  constructor(
    private readonly owner: { uid: number; gid: number },
    private readonly chmod: number | undefined,
  ) {}

  /** Everything in `from` into `into` (merged with what is there). */
  async contents(from: FileHandle, into: FileHandle): Promise<void> {
    const names = (await readdir(fdPath(from))).sort();
    await pool(names, 8, (n) => this.entry(from, n, into, n));
  }

  /** The entry `n` of `from` as `to` in `into`. */
  async entry(from: FileHandle, n: string, into: FileHandle, to: string): Promise<void> {
    const src = fdPath(from, n);
    const dst = fdPath(into, to);
    const fh = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ELOOP') return undefined; // a symlink: copied as one
      throw e;
    });
    try {
      const st = fh ? await fh.stat() : undefined;
      const existing = await lstatOrUndefined(dst);
      if (existing && !(existing.isDirectory() && st?.isDirectory())) await removeAt(into, to);
      if (!fh || !st) {
        await symlink(await readlink(src), dst);
        await lchown(dst, this.owner.uid, this.owner.gid);
        return;
      }
      if (st.isDirectory()) {
        if (!existing) await mkdir(dst, { mode: 0o700 });
        const sub = await openDirAt(into, to);
        try {
          await this.setMeta(sub, st);
          await this.contents(fh, sub);
          // dated after its contents: writing inside a directory changes its mtime
          await sub.utimes(st.atimeMs / 1000, st.mtimeMs / 1000);
        } finally {
          await sub.close();
        }
        return;
      }
      if (st.isFile()) return await this.file(fh, st, into, to);
      // fifos and devices: mknod sets the mode without following a symlink at the name
      const kind = st.isFIFO() ? ['p'] : [st.isBlockDevice() ? 'b' : 'c', String(major(st.rdev)), String(minor(st.rdev))];
      if (st.isSocket()) return;
      await run('mknod', ['-m', ((this.chmod ?? st.mode) & 0o7777).toString(8), fdPathForChild(into, to), ...kind]);
      await lchown(dst, this.owner.uid, this.owner.gid);
      await lutimes(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
    } finally {
      await fh?.close();
    }
  }

  private async file(fh: FileHandle, st: Stats, into: FileHandle, to: string): Promise<void> {
    const dst = fdPath(into, to);
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? this.linked.get(key) : undefined;
    // A hard link within the copy stays one; failing that (the first copy failed or was replaced), a plain copy.
    if (first && (await first.then((p) => link(p, dst)).then(() => true, () => false))) return;
    let done: (p: string) => void = () => {};
    if (st.nlink > 1 && !first) this.linked.set(key, new Promise<string>((res, rej) => ((done = res), void rej)));
    // The source's descriptor reopened through /proc: copyFile (copy_file_range, in the kernel) reads exactly the
    // file opened without following a symlink; COPYFILE_EXCL never writes through one at the destination.
    try {
      await copyFile(`/proc/self/fd/${fh.fd}`, dst, constants.COPYFILE_EXCL);
      const out = await open(dst, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        await this.setMeta(out, st);
        await out.utimes(st.atimeMs / 1000, st.mtimeMs / 1000);
      } finally {
        await out.close();
      }
    } finally {
      // Links made from a path: the directory handle is closed by then. (A failed copy leaves a path that fails.)
      done(`${await readlink(fdPath(into))}/${to}`);
    }
  }

  /** chown first: it clears setuid and setgid, which the chmod then sets. */
  private async setMeta(fh: FileHandle, st: Stats): Promise<void> {
    await fh.chown(this.owner.uid, this.owner.gid);
    await fh.chmod((this.chmod ?? st.mode) & 0o7777);
  }
}

const major = (rdev: number) => ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & ~0xff);

/**
 * `user`, `user:group`, `uid:gid` (names looked up in the rootfs's /etc/passwd and /etc/group, read inside it).
 * As in dockerd 20.10, a lone user stands for the group too (`--chown=bob` is `bob:bob`). Docker's error texts.
 */
export async function resolveChown(rootfs: string, spec: string): Promise<{ uid: number; gid: number }> {
  const prefix = 'unable to convert uid/gid chown string to host mapping: ';
  const parts = spec.split(':');
  if (parts.length > 2) throw new InvalidArgument(`${prefix}invalid chown string format: ${spec}`);
  const user = parts[0] ?? '';
  const group = parts[1] ?? user;
  return ScopedRoot.with(rootfs, async (r) => {
    const lookup = async (name: string, file: string, what: string, kind: string): Promise<number> => {
      if (/^\d+$/.test(name)) return Number(name);
      const text = await r.readFile(file).catch((e: unknown) => (isNotExist(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? undefined : Promise.reject(e)));
      if (!text) throw new InvalidArgument(`${prefix}can't find ${what} for ${kind} ${name}: open ${file}: no such file or directory`);
      for (const line of text.toString('utf8').split('\n')) {
        const f = line.split(':');
        if (f[0] === name && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
      }
      throw new InvalidArgument(`${prefix}can't find ${what} for ${kind} ${name}: no such ${kind}: ${name}`);
    };
    const uid = await lookup(user, '/etc/passwd', 'uid', 'user');
    const gid = await lookup(group, '/etc/group', 'gid', 'group');
    return { uid, gid };
  });
}

/**
 * ADD's download of an http(s) URL into `dir` (a fresh directory the caller removes): the file is named after the
 * URL's last path component, as Docker names it, and is mode 0600, as Docker leaves it. A non-2xx answer is
 * Docker's error. Returns the Source to copy, read from `root` (= dir).
 */
export async function fetchUrl(url: string, dir: string): Promise<Source & { root: string; size: number }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgument(`ADD failed: invalid URL: ${url}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgument(`ADD failed: unsupported URL scheme: ${url}`);
  const base = posix.basename(decodeURIComponent(u.pathname));
  const name = base === '' || base === '/' || base === '.' || base === '..' ? '' : base;
  let res: Response;
  try {
    res = await fetch(u, { redirect: 'follow' });
  } catch (e) {
    throw new InvalidArgument(`ADD failed: failed to GET ${url}: ${(e as Error).cause ? String(((e as Error).cause as Error).message) : (e as Error).message}`, { cause: e });
  }
  if (res.status < 200 || res.status >= 300) {
    const body = (await res.text().catch(() => '')).slice(0, 64 << 10).trim();
    throw new InvalidArgument(`ADD failed: failed to GET ${url} with status ${res.status} ${res.statusText}: ${body}`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = name || 'download';
  const path = `${dir}/${file}`;
  await rm(path, { force: true });
  let size = 0;
  const body = res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([]);
  body.on('data', (c: Buffer) => (size += c.length));
  await pipeline(body, createWriteStream(path, { mode: 0o600, flags: 'wx' }));
  const lastModified = res.headers.get('last-modified');
  if (lastModified && !Number.isNaN(Date.parse(lastModified))) {
    const t = new Date(Date.parse(lastModified)); // Docker dates the file as the server does
    await lutimes(path, t, t);
  }
  return { root: dir, path: file, name, dir: false, url, size };
}
