import { execFile } from 'node:child_process';
import { passOn, sha256Stream } from '../../util/hash-thread.js';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { extract as tarExtract, type Header as Headers } from 'tar-stream';
import { InvalidArgument, isBerthError, isNotExist, isSystemError } from '../../errors/index.js';
import { joinInRoot, writeChunks } from '../../kernel/fs.js';
import type { Digest } from '../../oci/index.js';
import { decompress } from './compression.js';
import { TarSplitter, encodeTarSplit } from './tarsplit.js';
import { applyPaxXattrs, setXattr } from '../../util/xattrs.js';

const run = promisify(execFile);

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';

export interface AppliedLayer {
  /** sha256 of the uncompressed tar stream. */
  diffId: Digest;
  /** Bytes of the layer's files and symlinks, hard links once (Docker's overlay2 diff size). */
  size: number;
}

export interface ApplyOptions {
  /**
   * The input is an uncompressed tar that another reader of the same bytes hashes (a download stored and
   * unpacked at once): its digest is awaited instead of hashing the tar a second time.
   */
  diffId?: Promise<Digest>;
  /** Follows the tar as it is unpacked, so that it can be made again from the files (see tarsplit.ts). */
  split?: TarSplitter;
}

/**
 * Unpacks a layer tar (plain, gzip or zstd) into `dest`, an empty overlay "diff" directory, converting OCI
 * whiteouts to overlayfs ones (`.wh.x` → char device 0/0 at `x`; `.wh..wh..opq` → `trusted.overlay.opaque=y`).
 *
 * Safety: every name is joined lexically under `dest` (no `..` escape), and no entry is written through a
 * symlink: each parent must be a real directory. Hard links must point inside `dest`. Symlinks themselves may
 * point anywhere (they are never followed here). On failure `dest` is left as is: the caller removes it.
 *
 * Node has no mknod, so device nodes and whiteouts are made by Debian's `mknod`; layers have few of them.
 */
export async function applyLayer(input: Readable | AsyncIterable<Uint8Array>, dest: string, opts: ApplyOptions = {}): Promise<AppliedLayer> {
  const hash = sha256Stream();
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      passOn(hash.update(chunk), chunk, cb);
    },
  });
  const ex = tarExtract();
  const writer = new LayerWriter(dest, opts.split);
  let current: Readable | undefined;
  const consume = (async () => {
    for await (const entry of ex) {
      current = entry as unknown as Readable;
      await writer.write(entry.header, current);
      entry.resume(); // drain whatever the writer did not read (directories, links, whiteouts)
    }
  })();
  const tap = opts.split?.tap() ?? new PassThrough();
  const feed = opts.diffId
    ? pipeline(input, tap, ex as unknown as NodeJS.WritableStream)
    : pipeline(decompress(input), hasher, tap, ex as unknown as NodeJS.WritableStream);
  try {
    await Promise.all([feed, consume]);
  } catch (e) {
    // A truncated stream ends the parser without ending the entry being read: end both, then let them settle.
    ex.destroy();
    current?.destroy(e as Error);
    await Promise.allSettled([feed, consume]);
    if (isBerthError(e) || isSystemError(e)) throw e;
    throw new InvalidArgument(`invalid layer tar: ${(e as Error).message}`, { cause: e });
  }
  await writer.finish();
  return { diffId: opts.diffId ? await opts.diffId : `sha256:${await hash.digest()}`, size: writer.size };
}

/**
 * applyLayer, with the tar followed as it is unpacked: the result carries the encoded tar-split, unless the files
 * cannot give the tar's bytes back (a path written twice, say), when the caller must keep the tar itself.
 */
export async function applyLayerWithSplit(input: Readable | AsyncIterable<Uint8Array>, dest: string): Promise<AppliedLayer & { tarSplit?: Buffer }> {
  const split = new TarSplitter();
  const applied = await applyLayer(input, dest, { split });
  const made = split.result();
  return made ? { ...applied, tarSplit: await encodeTarSplit(made) } : applied;
}

class LayerWriter {
  size = 0;
  /** Directories known to be real directories (not symlinks) under the root, relative paths. */
  private readonly realDirs = new Set<string>(['']);
  /** Directory mtimes, applied last (writing inside a directory changes its mtime). */
  private readonly dirTimes: Array<[string, Date]> = [];

  constructor(
    private readonly root: string,
    private readonly split?: TarSplitter,
  ) {}

  async write(h: Headers, body: Readable): Promise<void> {
    const name = h.name.replace(/^(\.\/)+/, '');
    if (name === '' || name === '.' || name === './') return;
    const path = joinInRoot(this.root, name);
    const rel = relative(this.root, path);
    if (rel === '') return; // the layer root itself: its attributes belong to the image's root, kept as is
    const base = basename(rel);

    if (base.startsWith(whiteoutPrefix)) {
      const parentRel = dirname(rel) === '.' ? '' : dirname(rel);
      await this.ensureParents(rel);
      const parent = join(this.root, parentRel);
      if (base === opaqueMarker) {
        await setXattr(parent, 'trusted.overlay.opaque', Buffer.from('y'));
      } else if (!base.startsWith(opaqueMarker.slice(0, 8))) {
        const target = join(parent, base.slice(whiteoutPrefix.length));
        await this.removeExisting(relative(this.root, target));
        await run('mknod', ['-m', '0', target, 'c', '0', '0']);
      }
      return;
    }

    await this.ensureParents(rel);
    const existing = await lstat(path).catch((e: unknown) => {
      if (isNotExist(e)) return undefined;
      throw e;
    });
    if (existing && !(existing.isDirectory() && h.type === 'directory')) await this.removeExisting(rel);

    const mode = (h.mode ?? 0o644) & 0o7777;
    switch (h.type) {
      case 'directory':
        if (!existing?.isDirectory()) await mkdir(path, { mode: 0o755 });
        this.realDirs.add(rel);
        break;
      case 'file':
      case 'contiguous-file':
        await writeBody(body, path);
        this.size += h.size ?? 0;
        if (h.size) this.split?.unpacked((h as Headers & { byteOffset: number }).byteOffset, h.size, rel);
        break;
      case 'symlink':
        await symlink(h.linkname ?? '', path);
        this.size += Buffer.byteLength(h.linkname ?? ''); // Docker counts a symlink's own size (its target's length)
        break;
      case 'link': {
        const target = joinInRoot(this.root, (h.linkname ?? '').replace(/^(\.\/)+/, ''));
        const targetRel = relative(this.root, target);
        await this.checkParents(targetRel);
        const st = await lstat(target).catch(() => undefined);
        if (!st || st.isDirectory()) throw new InvalidArgument(`invalid hard link ${name} -> ${h.linkname}: target is not a file in the layer`);
        await link(target, path);
        return; // a hard link shares the target's inode: nothing more to set
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = h.type === 'fifo' ? ['p'] : [h.type === 'block-device' ? 'b' : 'c', String(h.devmajor ?? 0), String(h.devminor ?? 0)];
        await run('mknod', [path, ...kind]);
        break;
      }
      default:
        return; // pax/gnu metadata entries are folded into headers by the parser; others carry no file
    }
    if (h.type !== 'symlink') await chmod(path, mode).catch(() => {});
    await lchown(path, h.uid ?? 0, h.gid ?? 0);
    if (h.type !== 'symlink' && mode & 0o6000) await chmod(path, mode); // chown clears setuid/setgid
    await applyPaxXattrs(path, h);
    const mtime = h.mtime ?? new Date(0);
    if (h.type === 'directory') this.dirTimes.push([path, mtime]);
    else await lutimes(path, mtime, mtime);
  }

  async finish(): Promise<void> {
    for (const [path, mtime] of this.dirTimes.reverse()) await lutimes(path, mtime, mtime);
  }

  /** Parents of `rel` must be real directories; missing ones are created (tars may omit them). */
  private async ensureParents(rel: string): Promise<void> {
    const parts = rel.split('/').slice(0, -1);
    let cur = '';
    for (const part of parts) {
      cur = cur ? `${cur}/${part}` : part;
      if (this.realDirs.has(cur)) continue;
      const st = await lstat(join(this.root, cur)).catch(() => undefined);
      if (!st) await mkdir(join(this.root, cur), { mode: 0o755 });
      else if (st.isSymbolicLink()) throw new InvalidArgument(`refusing to write ${rel}: ${cur} is a symlink (would escape the layer)`);
      else if (!st.isDirectory()) throw new InvalidArgument(`invalid layer: ${cur} is not a directory, needed by ${rel}`);
      this.realDirs.add(cur);
    }
  }

  /** Like ensureParents, but for a path that must already exist (a hard link target). */
  private async checkParents(rel: string): Promise<void> {
    let cur = '';
    for (const part of rel.split('/').slice(0, -1)) {
      cur = cur ? `${cur}/${part}` : part;
      if (this.realDirs.has(cur)) continue;
      const st = await lstat(join(this.root, cur)).catch(() => undefined);
      if (!st?.isDirectory()) throw new InvalidArgument(`invalid hard link target ${rel}: ${cur} is not a directory in the layer`);
      this.realDirs.add(cur);
    }
  }

  private async removeExisting(rel: string): Promise<void> {
    this.split?.lost(rel);
    await rm(join(this.root, rel), { recursive: true, force: true });
    for (const d of this.realDirs) if (d === rel || d.startsWith(`${rel}/`)) this.realDirs.delete(d);
  }

}

/**
 * Copies an entry's body to a new file. A plain loop rather than stream.pipeline: tar-stream's entries are streamx
 * streams, and one destroyed (truncated input) before a pipeline attaches would leave that pipeline pending forever.
 */
async function writeBody(body: Readable, path: string): Promise<void> {
  const fh = await open(path, 'w', 0o600);
  try {
    await writeChunks(fh, body);
  } finally {
    await fh.close();
  }
}
