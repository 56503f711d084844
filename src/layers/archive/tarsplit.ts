// A layer's tar kept as its unpacked files plus everything else of the stream (headers, padding, metadata
// entries, the end blocks), so that the exact bytes, and so the diff ID, can be made again for `push` and `save`
// without storing the tar beside its files: dockerd's overlay2 does the same with tar-split. The walker is
// written here rather than taken from a library because it must run beside tar-stream on the same bytes: it
// only sizes entries, it never interprets them.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';

const block = 512;

/** A file's bytes inside the tar: where its data starts in the stream, how long it is, and where it was unpacked. */
interface Payload {
  offset: number;
  size: number;
  /** How many kept bytes come before it. */
  rawAt: number;
  path?: string;
}

/** What is kept: the bytes outside the payloads, in order, and the payloads between them. */
export interface TarSplit {
  size: number;
  /** [bytes of `raw` before the payload, the payload's size, its path relative to the layer root]. */
  payloads: Array<[number, number, string]>;
  raw: Buffer;
}

/**
 * Watches a tar stream go by (`tap()`), noting which byte ranges are regular files' data; the unpacker tells
 * where each went (`unpacked`) and which were removed or replaced later in the same stream (`lost`), or the
 * packer which file each comes from (`nextPayload`). `result()`
 * is the split, or undefined when some payload cannot be found again among the files (the caller then keeps
 * the tar itself).
 */
export class TarSplitter {
  private readonly rawParts: Buffer[] = [];
  private rawSize = 0;
  private readonly payloads: Payload[] = [];
  private readonly byOffset = new Map<number, Payload>();
  /** Paths told in tar order by a packer (`nextPayload`), matched to the payloads when the split is made. */
  private readonly ordered: Array<{ path: string; size: number }> = [];
  private pos = 0;
  private header = Buffer.alloc(0);
  /** What the bytes now passing are: a header, an entry's data, or the end of the archive. */
  private state: 'header' | 'data' | 'end' = 'header';
  private left = 0; // of the current data region, padding included
  private dataLeft = 0; // of the current payload (0 when the data is kept raw)
  private pax = Buffer.alloc(0);
  private collectingPax: 'x' | 'g' | undefined;
  private paxSize: number | undefined;
  private broken = false;

  tap(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.observe(chunk);
        cb(null, chunk);
      },
    });
  }

  /** The next bytes of the tar; nothing of `chunk` is kept (it may be reused). */
  observe(chunk: Buffer): void {
    try {
      this.walk(chunk);
    } catch {
      this.broken = true; // tar-stream will say what is wrong with the stream
    }
  }

  /** The unpacker wrote the file whose data starts at `offset` to `path` (relative to the layer root). */
  unpacked(offset: number, size: number, path: string): void {
    const p = this.byOffset.get(offset);
    if (p && p.size === size) p.path = path;
    else this.broken = true;
  }

  /** A packer is about to write the data of the file `path` (relative to the root the tar is made from). */
  nextPayload(path: string, size: number): void {
    this.ordered.push({ path, size });
  }

  /** `path` (and whatever was under it) was removed or replaced: a payload unpacked there is gone. */
  lost(path: string): void {
    for (const p of this.payloads) if (p.path && (p.path === path || p.path.startsWith(`${path}/`))) this.broken = true;
  }

  result(): TarSplit | undefined {
    if (this.ordered.length) {
      if (this.ordered.length !== this.payloads.length) return undefined;
      this.payloads.forEach((p, i) => {
        const o = this.ordered[i] as { path: string; size: number };
        if (o.size === p.size) p.path = o.path;
      });
    }
    if (this.broken || this.payloads.some((p) => p.path === undefined)) return undefined;
    const raw = Buffer.concat(this.rawParts, this.rawSize);
    const payloads: TarSplit['payloads'] = [];
    let prevRaw = 0;
    for (const p of this.payloads) {
      payloads.push([p.rawAt - prevRaw, p.size, p.path as string]);
      prevRaw = p.rawAt;
    }
    return { size: this.pos, payloads, raw };
  }

  private keep(b: Buffer): void {
    if (b.length === 0) return;
    this.rawParts.push(Buffer.from(b)); // a copy: small, and the chunk it comes from is not pinned
    this.rawSize += b.length;
  }

  private walk(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.state === 'end') {
        this.keep(chunk.subarray(at));
        this.pos += chunk.length - at;
        return;
      }
      if (this.state === 'header') {
        const need = block - this.header.length;
        const take = chunk.subarray(at, at + need);
        this.header = this.header.length ? Buffer.concat([this.header, take]) : Buffer.from(take);
        at += take.length;
        this.pos += take.length;
        if (this.header.length < block) return;
        this.keep(this.header);
        this.onHeader(this.header);
        this.header = Buffer.alloc(0);
        continue;
      }
      // data: first the payload (not kept), then padding and metadata data (kept)
      const n = Math.min(this.left, chunk.length - at);
      const piece = chunk.subarray(at, at + n);
      const inPayload = Math.min(this.dataLeft, n);
      if (this.collectingPax) this.pax = Buffer.concat([this.pax, piece]);
      this.keep(piece.subarray(inPayload));
      this.dataLeft -= inPayload;
      this.left -= n;
      at += n;
      this.pos += n;
      if (this.left === 0) {
        if (this.collectingPax) this.onPax();
        this.state = 'header';
      }
    }
  }

  private onHeader(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      this.state = 'end';
      return;
    }
    const flag = h[156] === 0 ? '0' : String.fromCharCode(h[156] as number);
    let size = octal(h.subarray(124, 136));
    const nameEnd = h.indexOf(0, 0);
    const name = h.subarray(0, nameEnd < 0 || nameEnd > 100 ? 100 : nameEnd).toString('latin1');
    const isFile = (flag === '0' && !name.endsWith('/')) || flag === '7';
    if (isFile && this.paxSize !== undefined) size = this.paxSize;
    if (!'xgLK'.includes(flag)) this.paxSize = undefined; // a pax header applies to the next entry (past GNU long names)
    if (flag === '5' && size > 0) this.broken = true; // tar-stream reads no data for a directory
    this.left = Math.ceil(size / block) * block;
    this.dataLeft = isFile ? size : 0;
    this.collectingPax = (flag === 'x' || flag === 'g') && size <= 1 << 20 ? flag : undefined;
    if ((flag === 'x' || flag === 'g') && !this.collectingPax) this.broken = true;
    this.pax = Buffer.alloc(0);
    if (isFile && size > 0) {
      const p = { offset: this.pos, size, rawAt: this.rawSize };
      this.payloads.push(p);
      this.byOffset.set(this.pos, p);
    }
    this.state = this.left > 0 ? 'data' : 'header';
  }

  /** A pax header's `size` record overrides the next entry's header field (records are "LEN key=value\n"). */
  private onPax(): void {
    const kind = this.collectingPax;
    this.collectingPax = undefined;
    const text = this.pax.toString('utf8');
    for (let i = 0; i < text.length; ) {
      const sp = text.indexOf(' ', i);
      const len = Number(text.slice(i, sp));
      if (!(sp > i && len > 0)) break;
      const rec = text.slice(sp + 1, i + len - 1);
      // tar-stream lets a global header's size apply too; such archives are kept whole rather than followed
      if (rec.startsWith('size=')) {
        if (kind === 'g') this.broken = true;
        else this.paxSize = Number(rec.slice(5));
      }
      i += len;
    }
  }
}

/** A tar numeric field: octal text, or base-256 when its first byte has the high bit (GNU, for big sizes). */
function octal(field: Buffer): number {
  if ((field[0] as number) & 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + (field[i] as number);
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text ? parseInt(text, 8) : 0;
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** On disk: gzip of a 4-byte length, the JSON of the size and payloads, then the raw bytes. */
export async function encodeTarSplit(s: TarSplit): Promise<Buffer> {
  const head = Buffer.from(JSON.stringify({ size: s.size, payloads: s.payloads }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  return gzipAsync(Buffer.concat([len, head, s.raw]), { level: 1 });
}

export async function decodeTarSplit(bytes: Buffer): Promise<TarSplit> {
  const all = await gunzipAsync(bytes);
  const n = all.readUInt32BE(0);
  const head = JSON.parse(all.subarray(4, 4 + n).toString('utf8')) as Omit<TarSplit, 'raw'>;
  return { ...head, raw: all.subarray(4 + n) };
}

/**
 * The tar again: the kept bytes with each payload read from its file under `root`. The files are the layer's,
 * never written after unpacking; a file of another size fails the stream (the caller also checks the digest).
 */
export function assembleTar(s: TarSplit, root: string): Readable {
  async function* parts(): AsyncGenerator<Buffer> {
    let at = 0;
    for (const [rawBefore, size, path] of s.payloads) {
      if (rawBefore) yield s.raw.subarray(at, at + rawBefore);
      at += rawBefore;
      // O_NOFOLLOW: the layer holds no symlink where a payload was unpacked; if one appears, it is not followed.
      const fh = await open(join(root, path), constants.O_RDONLY | constants.O_NOFOLLOW);
      let read = 0;
      try {
        for await (const c of fh.createReadStream({ autoClose: false, highWaterMark: 1 << 20 })) {
          read += (c as Buffer).length;
          if (read > size) break;
          yield c as Buffer;
        }
      } finally {
        await fh.close();
      }
      if (read !== size) throw new Error(`layer file ${path} is ${read} bytes, its tar entry ${size}`);
    }
    if (at < s.raw.length) yield s.raw.subarray(at);
  }
  return Readable.from(parts(), { objectMode: false });
}
