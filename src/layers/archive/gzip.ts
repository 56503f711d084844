import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

/** Uncompressed bytes per segment: each is probed and compressed (or stored) on its own. */
const segmentSize = 1 << 20;
/** The slice of a segment compressed to judge it. */
const probeSize = 32 << 10;
/** A probe that does not shrink below this fraction marks its segment incompressible. */
const storedAbove = 0.9;
/** Segments in work at once: compression runs in the libuv threadpool, so they spread over the cores. */
const inFlight = 4;
/** The largest stored deflate block (its LEN field is 16 bits). */
const maxStored = 0xffff;

export interface GzipStats {
  /** Segments sent as stored deflate blocks (judged incompressible). */
  stored: number;
  /** Segments deflated. */
  deflated: number;
}

/**
 * A gzip stream (RFC 1952, one member) made for layer uploads, where gzip of the whole layer on one core is the
 * slowest step by far. The input is cut into fixed 1 MiB segments; each is judged by deflating a 32 KiB slice of
 * it: data that does not compress (already compressed files, random data) is sent as stored deflate blocks, which
 * cost a copy, and the rest is deflated at `level` as a raw deflate run ended by a sync flush (byte-aligned, not
 * final), several segments at a time in the threadpool. Segments do not share a dictionary, so a match across a
 * boundary is lost (a fraction of a per cent on real layers). The output is a plain gzip stream any reader accepts
 * and depends only on the input bytes (not on how they are chunked), so one tar always gives one blob.
 */
export function createLayerGzip(opts: { level?: number; stats?: GzipStats } = {}): Transform {
  const level = opts.level ?? zlib.constants.Z_BEST_SPEED;
  let crc = 0;
  let total = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const queue: Array<Promise<Buffer>> = [];

  const encode = async (seg: Buffer): Promise<Buffer> => {
    const at = Math.max(0, Math.floor((seg.length - probeSize) / 2));
    const probe = seg.subarray(at, at + probeSize);
    const probed = await deflateRaw(probe, { level, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    if (probed.length > probe.length * storedAbove) {
      opts.stats && opts.stats.stored++;
      return storedBlocks(seg);
    }
    opts.stats && opts.stats.deflated++;
    const out = await deflateRaw(seg, { level, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    // zlib falls back to stored blocks itself when deflating does not pay; this is only a guard.
    return out.length <= seg.length + 5 * Math.ceil(seg.length / maxStored) + 5 ? out : storedBlocks(seg);
  };

  const take = (seg: Buffer) => {
    crc = crc32(seg, crc);
    total += seg.length;
    queue.push(encode(seg));
    // Rejections are handled where the queue is drained; this keeps an early one from being "unhandled".
    queue.at(-1)?.catch(() => {});
  };

  let headerSent = false;
  const drain = async (t: Transform, max: number) => {
    if (!headerSent) {
      headerSent = true;
      // ID1 ID2, CM=deflate, no flags, MTIME 0 (the same bytes every time), XFL 0, OS 3 (Unix).
      t.push(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
    }
    while (queue.length > max) t.push(await (queue.shift() as Promise<Buffer>));
  };

  return new Transform({
    highWaterMark: 1 << 20,
    transform(this: Transform, chunk: Buffer, _enc, cb: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < segmentSize) return cb();
      let all = Buffer.concat(pending, pendingBytes);
      while (all.length >= segmentSize) {
        take(all.subarray(0, segmentSize));
        all = all.subarray(segmentSize);
      }
      pending = all.length ? [all] : [];
      pendingBytes = all.length;
      drain(this, inFlight - 1).then(() => cb(), cb);
    },
    flush(this: Transform, cb: TransformCallback) {
      if (pendingBytes) take(Buffer.concat(pending, pendingBytes));
      pending = [];
      drain(this, 0).then(() => {
        const end = Buffer.alloc(13);
        // The final block: an empty stored one (BFINAL=1, BTYPE=00, LEN 0, NLEN 0xffff).
        end.set([1, 0, 0, 0xff, 0xff]);
        end.writeUInt32LE(crc >>> 0, 5);
        end.writeUInt32LE(total % 2 ** 32, 9);
        cb(null, end);
      }, cb);
    },
  });
}

/** `data` as stored deflate blocks, none final (each: a header byte 0, LEN and its complement, the bytes). */
function storedBlocks(data: Buffer): Buffer {
  const n = Math.ceil(data.length / maxStored);
  const out = Buffer.allocUnsafe(data.length + 5 * n);
  let o = 0;
  for (let i = 0; i < data.length; i += maxStored) {
    const len = Math.min(maxStored, data.length - i);
    out[o] = 0;
    out.writeUInt16LE(len, o + 1);
    out.writeUInt16LE(~len & 0xffff, o + 3);
    data.copy(out, o + 5, i, i + len);
    o += 5 + len;
  }
  return out;
}

const crcTable = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** zlib's crc32 (Node ≥ 20.15); a table-driven one before that. */
function crc32(data: Buffer, prev: number): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, prev);
  let c = ~prev;
  for (let i = 0; i < data.length; i++) c = (crcTable[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
