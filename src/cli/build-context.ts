// The local half of `berth build`: the build context as docker's CLI prepares it — a directory tarred with
// .dockerignore applied (the Dockerfile and .dockerignore always sent), a Dockerfile from outside the context or
// from stdin added under a random name, or a tar / bare Dockerfile read from stdin. Everything is streamed: a large
// context is never held in memory. File system calls are synchronous but for reading files' contents: the CLI has
// nothing else to do meanwhile, and each call sent to libuv's thread pool costs a round trip of tens of µs here.
import { accessSync, constants, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import dockerignore from '@balena/dockerignore';
import type { Header as Headers } from 'tar-stream';
import { sendFileRange, writeTo } from '../util/send-file.js';
import { header, major, minor, tarEnd, tarHeader, tarPadding } from '../util/tar.js';

// The package is CommonJS (`module.exports = factory`) while its types declare an ES default export.
const ignore = dockerignore as unknown as typeof dockerignore.default;

/** A prepared context: the tar to send and the Dockerfile's name inside it (the API's `dockerfile`). */
export interface PreparedContext {
  /**
   * Writes the context's tar into `sink` (not ending it), honouring back-pressure; `onBytes` sees the bytes as
   * they go. Rejects if a file cannot be read whole or the sink goes away.
   */
  writeTo(sink: Writable, onBytes: (n: number) => void): Promise<void>;
  dockerfile: string;
  /** A directory context can be synced with the copy berthd keeps of it (builder/context-cache.ts on its side). */
  sync?: ContextSync;
}

/** What `POST /berth/build/context` takes, and the tar of just the entries it asks for. */
export interface ContextSync {
  /** Names the directory whose copy is kept (host and path). */
  key: string;
  /** Every entry with its metadata stamp, in the tar's order. */
  entries: Array<[name: string, stamp: string]>;
  /** Like writeTo, with only the entries named in `need`. */
  writeOnly(need: ReadonlySet<string>, sink: Writable, onBytes: (n: number) => void): Promise<void>;
}

/** A failure docker reports as `unable to prepare context: …` or with its own words; the message is docker's. */
export class ContextError extends Error {}

// Go's error strings for the errno values a path lookup can meet.
const goErrno: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
};

/**
 * Go's filepath.EvalSymlinks: the real path, or its error, which names the first component that failed
 * ("lstat /ctx/Dockerfile: no such file or directory").
 */
function evalSymlinks(path: string): string {
  try {
    return realpathSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const prefix = '/' + parts.slice(0, i).join('/');
      try {
        lstatSync(prefix);
      } catch (e2) {
        const c = (e2 as NodeJS.ErrnoException).code ?? '';
        throw new ContextError(`lstat ${prefix}: ${goErrno[c] ?? (e2 as Error).message}`);
      }
    }
    throw new ContextError(`lstat ${path}: ${goErrno[code] ?? (e as Error).message}`);
  }
}

/** True when `p` names an existing path (docker's isLocalDir: a file passes too, and is refused later). */
export function isLocalPath(p: string): boolean {
  return existsSync(p);
}

/** docker's urlutil: what `build` would treat as a remote context. */
export function isRemoteContext(c: string): boolean {
  return /^(?:https?:\/\/|git:\/\/|git@|github\.com\/)/.test(c);
}

/** ResolveAndValidateContextPath: the context directory's absolute, symlink-free path. */
function contextDirectory(given: string): string {
  let dir: string;
  try {
    dir = evalSymlinks(resolve(given));
  } catch (e) {
    throw new ContextError(`unable to evaluate symlinks in context path: ${(e as Error).message}`);
  }
  if (!statSync(dir).isDirectory()) throw new ContextError(`context must be a directory: ${dir}`);
  return dir;
}

/**
 * getDockerfileRelPath: the Dockerfile relative to the context. `-f` is relative to the current directory, not the
 * context; without it `Dockerfile`, or `dockerfile` when only that exists. `-` (stdin) stays `-`.
 */
function dockerfileRelPath(contextDir: string, given: string): string {
  if (given === '-') return given;
  let abs = given ? resolve(given) : join(contextDir, 'Dockerfile');
  if (!given && !lstatSync(abs, { throwIfNoEntry: false }) && lstatSync(join(contextDir, 'dockerfile'), { throwIfNoEntry: false })) {
    abs = join(contextDir, 'dockerfile');
  }
  try {
    abs = evalSymlinks(abs);
  } catch (e) {
    throw new ContextError(`unable to evaluate symlinks in Dockerfile path: ${(e as Error).message}`);
  }
  return relative(contextDir, abs);
}

/** build.ReadDockerignore: the context's .dockerignore as docker cleans its patterns (none if it has none). */
function readDockerignore(contextDir: string): string[] {
  let text: string;
  try {
    text = readFileSync(join(contextDir, '.dockerignore'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ContextError(`failed to read .dockerignore: ${(e as Error).message}`);
  }
  const out: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = i === 0 ? raw.replace(/^\uFEFF/, '') : raw;
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    const invert = p.startsWith('!');
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = cleanPath(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

/** Go's path.Clean for a relative or absolute slash path. */
function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (part !== '..' || !abs) out.push(part);
  }
  const s = (abs ? '/' : '') + out.join('/');
  return s || (abs ? '/' : '.');
}

/** Matches paths against .dockerignore patterns as docker does (case-sensitive, with `!` exceptions). */
function matcher(patterns: string[]) {
  const ig = ignore({ ignorecase: false }).add(patterns);
  const exceptions = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  return {
    ignores: (rel: string) => patterns.length > 0 && ig.ignores(rel),
    /** An excluded directory must still be walked when an exception may re-include something under it. */
    mayReinclude: (relDir: string) => exceptions.some((p) => `${p}/`.startsWith(`${relDir}/`)),
  };
}

interface Entry {
  abs: string;
  name: string;
  st: import('node:fs').Stats;
}

/**
 * The context's entries in docker's order (filepath.Walk: lexical, parents first), .dockerignore applied: an
 * excluded directory is skipped whole unless an exception pattern reaches into it (then its own entry is left out
 * and its children are judged one by one). Unreadable files fail here, before anything is sent, as docker's
 * ValidateContextDirectory does.
 */
function walk(root: string, m: ReturnType<typeof matcher>): Entry[] {
  const out: Entry[] = [];
  const visit = (dir: string, relDir: string) => {
    const names = readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const n of names) {
      const abs = join(dir, n);
      const rel = relDir ? `${relDir}/${n}` : n;
      let st;
      try {
        st = lstatSync(abs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new ContextError(`error checking context: can't stat '${abs}'`);
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // gone while walking
        throw e;
      }
      if (m.ignores(rel)) {
        if (st.isDirectory() && m.mayReinclude(rel)) visit(abs, rel);
        continue;
      }
      if (st.isFile()) {
        try {
          accessSync(abs, constants.R_OK);
        } catch {
          throw new ContextError(`error checking context: no permission to read from '${abs}'`);
        }
      }
      out.push({ abs, name: rel, st });
      if (st.isDirectory()) visit(abs, rel);
    }
  };
  visit(root, '');
  return out;
}

/** What a Dockerfile from stdin or from outside the context adds to the tar, as docker's AddDockerfileToBuildContext. */
interface InjectedDockerfile {
  name: string;
  content: Buffer;
}

/** One entry with its body from memory (or none), padded. */
async function writeEntry(sink: Writable, h: Headers, body: Buffer | undefined, onBytes: (n: number) => void): Promise<void> {
  const bytes = Buffer.concat([tarHeader(h), ...(body ? [body, tarPadding(body.length)] : [])]);
  onBytes(bytes.length);
  await writeTo(sink, bytes);
}

/**
 * The tar of `entries` (owners 0:0, as docker's ChownOpts), with an injected Dockerfile if any. File bodies go
 * through sendFileRange's reused buffers (see util/send-file.ts).
 */
async function writeEntries(entries: Entry[], injected: InjectedDockerfile | undefined, sink: Writable, onBytes: (n: number) => void, only?: ReadonlySet<string>): Promise<void> {
  const made = (name: string, mtime: Date, size: number): Headers => ({ ...header(name, madeStats), mode: 0o600, mtime, size });
  const inodes = new Map<string, string>();
  const buffers: Buffer[] = []; // read buffers, shared by the files in turn
  let sawIgnore = false;
  for (const { abs, name, st } of entries) {
    const h = { ...header(name, st), uid: 0, gid: 0 };
    if (only && !only.has(name) && !st.isFile()) continue; // a file may be a hard link's first name, which must be noted
    if (st.isDirectory()) await writeEntry(sink, { ...h, name: `${name}/`, type: 'directory' }, undefined, onBytes);
    else if (st.isSymbolicLink()) await writeEntry(sink, { ...h, type: 'symlink', linkname: readlinkSync(abs) }, undefined, onBytes);
    else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first) {
        if (!only || only.has(name)) await writeEntry(sink, { ...h, type: 'link', linkname: first }, undefined, onBytes);
        continue;
      }
      if (st.nlink > 1) inodes.set(key, name);
      if (only && !only.has(name)) continue;
      if (name === '.dockerignore' && injected) {
        // The injected Dockerfile is listed in .dockerignore so that the daemon leaves it out of `COPY .`.
        sawIgnore = true;
        const content = Buffer.concat([readFileSync(abs), Buffer.from(`\n${injected.name}\n`)]);
        await writeEntry(sink, { ...h, type: 'file', size: content.length }, content, onBytes);
      } else {
        await writeEntry(sink, { ...h, type: 'file', size: st.size }, undefined, onBytes);
        if (st.size > 0) await sendFileRange(abs, 0, st.size - 1, sink, { onBytes, buffers });
        const pad = tarPadding(st.size);
        onBytes(pad.length);
        await writeTo(sink, pad);
      }
    } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
      const type = st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block-device' : 'character-device';
      await writeEntry(sink, { ...h, type, devmajor: major(st.rdev), devminor: minor(st.rdev) }, undefined, onBytes);
    } // sockets cannot be archived; docker leaves them out too
  }
  if (injected) {
    const now = new Date();
    await writeEntry(sink, made(injected.name, now, injected.content.length), injected.content, onBytes);
    if (!sawIgnore) {
      const content = Buffer.from(`\n${injected.name}\n`);
      await writeEntry(sink, made('.dockerignore', now, content.length), content, onBytes);
    }
  }
  const end = tarEnd();
  onBytes(end.length);
  await writeTo(sink, end);
}

/** Stats of a file the CLI makes up (owners 0:0, its mode and time set by the caller). */
const madeStats = { mode: 0o600, uid: 0, gid: 0, mtimeMs: 0 } as import('node:fs').Stats;

/** docker's random name for a Dockerfile it adds to the context (node:crypto, ~4 ms to load, only then). */
const injectedName = async () => `.dockerfile.${(await import('node:crypto')).randomBytes(10).toString('hex')}`;

/**
 * A directory context. `dockerfile` is `-f` as given ('' for none, '-' for stdin); `stdinDockerfile` reads stdin
 * when it is '-'.
 */
export async function directoryContext(given: string, dockerfile: string, stdinDockerfile: () => Promise<Buffer>): Promise<PreparedContext> {
  let dir: string;
  let rel: string;
  try {
    dir = contextDirectory(given);
    rel = dockerfileRelPath(dir, dockerfile);
  } catch (e) {
    if (e instanceof ContextError) throw new ContextError(`unable to prepare context: ${e.message}`);
    throw e;
  }
  let injected: InjectedDockerfile | undefined;
  if (rel === '-') injected = { name: await injectedName(), content: await stdinDockerfile() };
  else if (rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    try {
      injected = { name: await injectedName(), content: readFileSync(dockerfile) };
    } catch (e) {
      throw new ContextError(`unable to open Dockerfile: ${(e as Error).message}`);
    }
  }
  const patterns = readDockerignore(dir);
  // TrimBuildFilesFromExcludes: .dockerignore and the Dockerfile are sent even when excluded (the daemon needs
  // them, and drops them itself when the patterns say so).
  const m0 = matcher(patterns);
  if (m0.ignores('.dockerignore')) patterns.push('!.dockerignore');
  if (!injected && m0.ignores(rel)) patterns.push(`!${rel}`);
  const entries = walk(dir, matcher(patterns));
  return {
    writeTo: (sink, onBytes) => writeEntries(entries, injected, sink, onBytes),
    dockerfile: injected?.name ?? rel,
    sync: {
      key: `${hostname()}:${dir}`,
      entries: stamps(entries, injected),
      writeOnly: (need, sink, onBytes) => writeEntries(entries, injected, sink, onBytes, need),
    },
  };
}

/**
 * Each entry's stamp for the daemon's kept copy: its type letter, then what changes when it does. ctime and the
 * inode catch what mtime alone misses (a file rewritten and its mtime set back, one renamed over another); they
 * also change on a fresh checkout, which costs a transfer, never a cache miss (the daemon keys COPY on content).
 * A hard link's stamp is its first name's, as it shares that inode; files the CLI makes up are always sent.
 */
function stamps(entries: Entry[], injected: InjectedDockerfile | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const byInode = new Map<string, string>();
  const made = () => `f-made:${Math.random()}`;
  for (const { name, st } of entries) {
    const common = `${st.mode}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
    if (st.isDirectory()) out.push([name, `d${common}`]);
    else if (st.isSymbolicLink()) out.push([name, `l${common}`]);
    else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? byInode.get(key) : undefined;
      if (first) {
        out.push([name, `h${first}:${st.size}:${common}`]);
        continue;
      }
      if (st.nlink > 1) byInode.set(key, name);
      out.push([name, name === '.dockerignore' && injected ? made() : `f${st.size}:${common}`]);
    } else if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) out.push([name, `o${st.rdev}:${common}`]);
  }
  if (injected) {
    out.push([injected.name, made()]);
    if (!entries.some((e) => e.name === '.dockerignore')) out.push(['.dockerignore', made()]);
  }
  return out;
}

/** Compression formats docker recognises at the start of a context, then a tar header with a valid checksum. */
export function isArchive(head: Buffer): boolean {
  const starts = (...b: number[]) => b.every((x, i) => head[i] === x);
  if (starts(0x1f, 0x8b, 0x08) || starts(0x42, 0x5a, 0x68) || starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00) || starts(0x28, 0xb5, 0x2f, 0xfd)) return true;
  if (head.length < 512 || head.subarray(0, 512).every((b) => b === 0)) return false;
  const field = head.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : head[i]!;
  return parseInt(field, 8) === sum;
}

/**
 * Context `-`: stdin holds a tar (sent as is, possibly compressed) or a bare Dockerfile, which becomes a context of
 * that one file, as docker's GetContextFromReader decides from the first 512 bytes.
 */
export async function stdinContext(input: Readable, dockerfile: string): Promise<PreparedContext> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < 512) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const c = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    chunks.push(c);
    size += c.length;
  }
  const head = Buffer.concat(chunks);
  const rest = async function* () {
    yield head;
    if (ended) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
  };
  if (isArchive(head)) {
    const writeAll = async (sink: Writable, onBytes: (n: number) => void) => {
      for await (const c of rest()) {
        onBytes(c.length);
        await writeTo(sink, c);
      }
    };
    return { writeTo: writeAll, dockerfile };
  }
  if (dockerfile !== '') throw new ContextError('unable to prepare context: ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles');
  const parts: Buffer[] = [];
  for await (const c of rest()) parts.push(c);
  const content = Buffer.concat(parts);
  const writeOne = async (sink: Writable, onBytes: (n: number) => void) => {
    await writeEntry(sink, { ...header('Dockerfile', madeStats), mode: 0o644, mtime: new Date(), size: content.length }, content, onBytes);
    onBytes(1024);
    await writeTo(sink, tarEnd());
  };
  return { writeTo: writeOne, dockerfile: 'Dockerfile' };
}
