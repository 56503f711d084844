import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgument, isBerthError, isNotExist } from '../errors/index.js';
import { ScopedRoot, removeAt } from '../kernel/scoped.js';
import { decompress, extractInRoot } from '../layers/index.js';
import { DockerIgnore, lstatOrUndefined, pruneIgnored } from './ignore.js';

export interface BuildContext {
  /** Directory with the unpacked context (files .dockerignore leaves out are not there). */
  readonly root: string;
  /** sha256 (hex) of each regular file's content, by path in the context, hashed while it was unpacked. */
  readonly digests: ReadonlyMap<string, string>;
  /**
   * What a build works out from the files (COPY's sources and their digest), for the next build to reuse: kept
   * with a context that is kept between builds (context-cache.ts) and emptied when one of its files changes.
   */
  readonly memo?: Map<string, unknown>;
  /** The Dockerfile `name` (relative to the context, may be in a subdirectory); Docker's error when missing. */
  readDockerfile(name: string): Promise<string>;
  /**
   * Resolves once every file of the context is in place: the first steps may run while the rest of it arrives,
   * and whatever reads the context's files (COPY, ADD) awaits this first. Rejects if the context is broken.
   */
  readonly ready: Promise<void>;
  /** Ends the build's use of it (the directory removed, or handed back to the cache), once the unpacking ended. */
  close(): Promise<void>;
}

/** Dockerfiles are read whole; anything larger is not a Dockerfile (dockerd has no limit, but must not OOM). */
const maxDockerfile = 32 << 20;

export type ArchiveCompression = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'none';

/** The compression of a stream from its first bytes (the formats ADD and the build context accept). */
export function sniffCompression(head: Uint8Array): ArchiveCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2'; // "BZh"
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) return 'xz';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * Whether `block` (the first 512 bytes of a stream) is a tar header: its checksum adds up (unsigned or, as some
 * old tars wrote it, signed), or it is the zero block that ends an empty archive. This is how Go's archive/tar,
 * and so dockerd and the docker CLI, tell a tar from anything else.
 */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  if (block.subarray(0, 512).every((b) => b === 0)) return true;
  const field = Buffer.from(block.subarray(148, 156)).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

/** Reads until `n` bytes are available (or the stream ends): the head, and the whole stream again, head first. */
export async function peek(input: AsyncIterable<Uint8Array>, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const c = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    chunks.push(c);
    have += c.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    while (!ended) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  }
  // Object mode hands the chunks on as they are: a byte-mode Readable joins its buffered chunks into one on every
  // read, a copy of everything per layer of streams.
  return { head: head.subarray(0, n), stream: Readable.from(all(), { objectMode: true, highWaterMark: 16 }) };
}

/**
 * Undoes gzip, bzip2, xz or zstd (sniffed), as Docker's DecompressStream does for contexts and ADD. gzip and zstd
 * go to the layer code; bzip2 and xz to Debian's `bzip2`/`xz` binaries: C decoders several times faster than the
 * pure-JS ones on npm, running on another core beside the extraction, and no new dependency (zstd is done alike).
 */
export async function decompressAny(input: AsyncIterable<Uint8Array>): Promise<{ kind: ArchiveCompression; stream: Readable }> {
  const { head, stream } = await peek(input, 6);
  const kind = sniffCompression(head);
  if (kind !== 'bzip2' && kind !== 'xz') return { kind, stream: kind === 'none' ? stream : decompress(stream) };
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const child = spawn(kind, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
  const exited = new Promise<number>((res, rej) => child.on('error', rej).on('close', (code) => res(code ?? 1)));
  out.on('close', () => {
    if (child.exitCode === null) child.kill(); // a reader gone early (bad tar, disconnect) must not leave it
  });
  (async () => {
    const feed = pipeline(stream, child.stdin).catch(() => {}); // the decoder may stop reading early on bad input
    await pipeline(child.stdout, out, { end: false });
    await feed;
    const code = await exited;
    if (code !== 0) throw new InvalidArgument(`invalid ${kind} stream: ${stderr.trim() || `${kind} exited with ${code}`}`);
    out.end();
  })().catch((e: unknown) => {
    stream.destroy();
    out.destroy(isBerthError(e) ? e : new InvalidArgument(`cannot decompress ${kind}: ${(e as Error).message}`, { cause: e }));
  });
  return { kind, stream: out };
}

/**
 * Unpacks the body of POST /build into `dir` (made if missing): a tar, plain or compressed, extracted inside `dir`
 * (names with `..`, absolute names and symlinks in the tar never lead out of it). A body that is not a tar is taken
 * as the Dockerfile itself, the context then being empty: what `docker build - < Dockerfile` means (the docker CLI
 * wraps it in a tar itself; dockerd 20.10 would answer "archive/tar: invalid tar header" to a bare one).
 * Then .dockerignore is applied as dockerd and the docker CLI together do: everything it matches is removed, the
 * Dockerfile and .dockerignore included, but only after the Dockerfile was read, so the builder still gets it.
 */
export async function openContext(input: Readable | AsyncIterable<Uint8Array>, dir: string, o: { dockerfile: string }): Promise<BuildContext> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const digests = new Map<string, string>();
    const filled = await fillContext(input, dir, o.dockerfile, digests, (root, rules, keep) => pruneIgnored(root, rules, keep));
    return makeContext(dir, filled.dockerfiles, digests, cleanup, { ready: filled.done.then(() => {}) });
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** How the files .dockerignore leaves out are removed from an unpacked context (`keep` are read first, then go). */
export type PruneIgnored = (root: ScopedRoot, rules: DockerIgnore, keep: ReadonlySet<string>) => Promise<void>;

/**
 * Unpacks `input` into the existing directory `dir` (over what is there: entries replaced, directories merged),
 * reads the Dockerfile and applies .dockerignore (`prune`, then the Dockerfile and .dockerignore themselves where
 * ignored). The content digests of the files unpacked are added to `digests`.
 *
 * Resolves as soon as the Dockerfile is read: when its entry has been written (a tar usually lists it early), or
 * else once the whole tar is in. The build's first steps then run while the rest of the context arrives, as
 * BuildKit's do. `done` resolves when everything is in place, with the kept files removed at the end; it fails if
 * the rest of the tar does, or if a later entry replaced the Dockerfile with another text.
 */
export async function fillContext(
  input: Readable | AsyncIterable<Uint8Array>,
  dir: string,
  dockerfile: string,
  digests: Map<string, string>,
  prune: PruneIgnored,
): Promise<{ dockerfiles: Map<string, string>; done: Promise<string[]> }> {
  const { stream: plain } = await decompressAny(input);
  const { head, stream } = await peek(plain, 512);
  if (head.length > 0 && !isTarHeader(head)) return { dockerfiles: new Map([['', await readAll(stream, maxDockerfile)]]), done: Promise.resolve([]) };
  const name = cleanName(dockerfile);
  const root = await ScopedRoot.open(dir);
  let arrived = () => {};
  const early = new Promise<void>((resolve) => (arrived = resolve));
  const extracted =
    head.length > 0
      ? extractInRoot(root, [], Readable.from(completedTar(stream), { objectMode: true, highWaterMark: 16 }), { digests, written: (n) => n === name && arrived() })
      : (stream.resume(), Promise.resolve());
  const read = Promise.race([early, extracted]).then(() => findDockerfile(root, name));
  const done = (async () => {
    try {
      await extracted;
      const found = await read;
      if (found && (await findDockerfile(root, name))?.text !== found.text) throw new InvalidArgument(`the context lists the Dockerfile ${found.name} twice, with different contents`);
      return await pruneContext(root, prune, found?.name);
    } finally {
      await read.catch(() => {}); // settled before the directory closes
      await root.close();
    }
  })();
  done.catch(() => {}); // its failure is told to whoever awaits it (the build, before it ends)
  try {
    const found = await read;
    return { dockerfiles: new Map(found ? [[found.name, found.text]] : []), done };
  } catch (e) {
    await done.catch(() => {}); // nothing is still writing when the caller cleans up
    throw e;
  }
}

/** .dockerignore applied to an unpacked context; returns the kept files (.dockerignore, the Dockerfile) it removed. */
async function pruneContext(root: ScopedRoot, prune: PruneIgnored, dockerfile: string | undefined): Promise<string[]> {
  const ignoreText = await root.readFile('.dockerignore');
  if (!ignoreText) return [];
  const keep = new Set(['.dockerignore', ...(dockerfile ? [dockerfile] : [])]);
  const rules = new DockerIgnore(ignoreText.toString('utf8'));
  await prune(root, rules, keep);
  const removed: string[] = [];
  for (const k of keep) {
    if (!rules.ignores(k)) continue;
    await removeInRoot(root, k);
    removed.push(k);
  }
  return removed;
}

/**
 * The tar with its last block padded and the end-of-archive blocks added if missing: the docker CLI's tar of a
 * context with a Dockerfile from outside it ends right after the last file's bytes, which Go's reader (dockerd's)
 * accepts and tar-stream does not.
 */
async function* completedTar(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let length = 0;
  for await (const chunk of input) {
    length += chunk.length;
    yield chunk;
  }
  yield Buffer.alloc((512 - (length % 512)) % 512 + 1024);
}


/** Removes `path` inside the root, never through a symlink. */
export async function removeInRoot(root: ScopedRoot, path: string): Promise<void> {
  const loc = await root.locate(path).catch((e: unknown) => {
    if (isNotExist(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  });
  if (!loc) return;
  try {
    if (loc.name && (await lstatOrUndefined(loc.path))) await removeAt(loc.dir, loc.name);
  } finally {
    await loc.close();
  }
}

export function makeContext(
  dir: string,
  dockerfiles: Map<string, string>,
  digests: ReadonlyMap<string, string>,
  cleanup: (intact: boolean) => Promise<void>,
  o: { ready?: Promise<void>; memo?: Map<string, unknown> } = {},
): BuildContext {
  const ready = o.ready ?? Promise.resolve();
  ready.catch(() => {}); // told to whoever awaits it
  return {
    root: dir,
    digests,
    ready,
    ...(o.memo && { memo: o.memo }),
    async readDockerfile(name: string) {
      const bare = dockerfiles.get('');
      if (bare !== undefined) return bare;
      const clean = cleanName(name);
      const cached = dockerfiles.get(clean) ?? (clean === 'Dockerfile' ? dockerfiles.get('dockerfile') : undefined);
      if (cached !== undefined) return cached;
      await ready;
      const found = await ScopedRoot.with(dir, (r) => findDockerfile(r, clean));
      if (!found) throw new InvalidArgument(`Cannot locate specified Dockerfile: ${name}`);
      return found.text;
    },
    // after the unpacking has ended: nothing writes into the directory any more
    close: async () => cleanup(await ready.then(() => true, () => false)),
  };
}

/** `name` relative to the context, as dockerd takes the dockerfile parameter (`./x`, `/x` and `x` alike). */
function cleanName(name: string): string {
  return (name || 'Dockerfile').split('/').filter((c) => c !== '' && c !== '.').join('/');
}

/** The Dockerfile, read inside the context; dockerd falls back to `dockerfile` when the default name is missing. */
async function findDockerfile(root: ScopedRoot, name: string): Promise<{ name: string; text: string } | undefined> {
  for (const n of name === 'Dockerfile' ? ['Dockerfile', 'dockerfile'] : [name]) {
    const buf = await root.readFile(n).catch((e: unknown) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'ELOOP') return undefined;
      throw e;
    });
    if (buf) return { name: n, text: buf.toString('utf8') };
  }
  return undefined;
}

async function readAll(stream: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > limit) {
      stream.destroy();
      throw new InvalidArgument(`Dockerfile too large: more than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
