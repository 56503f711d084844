import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { crc32Stream } from '../../util/hash-thread.js';

const deflateRaw = promisify(zlib.deflateRaw) as (buf: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;

/** Uncompressed bytes per segment: each is judged and compressed (or stored) on its own. */
const segmentSize = 1 << 20;
/** Bytes from the middle of a segment that judge it (a tar's headers at its start must not sway the judgement). */
const sampleSize = 16 << 10;
/** Order-0 entropy (bits per byte) above which deflate gains next to nothing: the segment is stored. */
const storedEntropy = 7.9;
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
 * slowest step by far. The input is cut into fixed 1 MiB segments, each judged by the byte entropy of 16 KiB
 * from its middle: data that does not compress (already compressed files, random data) is sent as stored
 * deflate blocks, which cost one copy, and the rest is deflated at `level` as a raw deflate run ended by a sync
 * flush (byte-aligned, not final), several segments at a time in the threadpool. Segments do not share a
 * dictionary, so a match across a boundary is lost (a fraction of a per cent on real layers). The output is a
 * plain gzip stream any reader accepts and depends only on the input bytes (not on how they are chunked), so one
 * tar always gives one blob.
 */
export function createLayerGzip(opts: { level?: number; stats?: GzipStats } = {}): Transform {
  const level = opts.level ?? zlib.constants.Z_BEST_SPEED;
  // The trailer's CRC-32 of the input (zlib's, in place: see crc32Stream).
  const crc = crc32Stream();
  let total = 0;
  // The input not yet cut into segments, as it came (no copy until a segment is encoded).
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const queue: Array<Promise<Buffer>> = [];

  const encode = async (seg: Buffer[]): Promise<Buffer> => {
    if (entropy(seg) > storedEntropy) {
      opts.stats && opts.stats.stored++;
      return storedBlocks(seg);
    }
    opts.stats && opts.stats.deflated++;
    const whole = seg.length === 1 ? (seg[0] as Buffer) : Buffer.concat(seg);
    const out = await deflateRaw(whole, { level, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    // zlib falls back to stored blocks itself when deflating does not pay; this is only a guard.
    return out.length <= whole.length + 5 * Math.ceil(whole.length / maxStored) + 5 ? out : storedBlocks([whole]);
  };

  const take = (seg: Buffer[]) => {
    for (const b of seg) total += b.length;
    queue.push(encode(seg));
    // Rejections are handled where the queue is drained; this keeps an early one from being "unhandled".
    queue.at(-1)?.catch(() => {});
  };

  /** Cuts the first `n` bytes off `pending`, as slices of its buffers. */
  const cut = (n: number): Buffer[] => {
    const seg: Buffer[] = [];
    while (n > 0) {
      const b = pending[0] as Buffer;
      if (b.length <= n) {
        seg.push(b);
        pending.shift();
        n -= b.length;
      } else {
        seg.push(b.subarray(0, n));
        pending[0] = b.subarray(n);
        n = 0;
      }
    }
    return seg;
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

  const accept = (t: Transform, chunk: Buffer, cb: TransformCallback) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < segmentSize) return cb();
    while (pendingBytes >= segmentSize) {
      take(cut(segmentSize));
      pendingBytes -= segmentSize;
    }
    drain(t, inFlight - 1).then(() => cb(), cb);
  };

  return new Transform({
    highWaterMark: 1 << 20,
    transform(this: Transform, chunk: Buffer, _enc, cb: TransformCallback) {
      crc.update(chunk);
      accept(this, chunk, cb);
    },
    flush(this: Transform, cb: TransformCallback) {
      if (pendingBytes) take(pending);
      pending = [];
      Promise.all([crc.digest(), drain(this, 0)]).then(([hex]) => {
        const end = Buffer.alloc(13);
        // The final block: an empty stored one (BFINAL=1, BTYPE=00, LEN 0, NLEN 0xffff).
        end.set([1, 0, 0, 0xff, 0xff]);
        end.writeUInt32LE(parseInt(hex, 16) >>> 0, 5);
        end.writeUInt32LE(total % 2 ** 32, 9);
        cb(null, end);
      }, cb);
    },
  });
}

/**
 * Order-0 entropy, in bits per byte, of 16 KiB from the middle of the segment: near 8 for compressed or random
 * data, where deflate saves nothing, well below for text and code. Far cheaper than a trial deflate.
 */
function entropy(seg: Buffer[]): number {
  const size = seg.reduce((n, b) => n + b.length, 0);
  const counts = new Uint32Array(256);
  const start = Math.max(0, Math.floor((size - sampleSize) / 2));
  const end = Math.min(size, start + sampleSize);
  const n = end - start;
  let bi = 0;
  let base = 0; // offset of seg[bi] in the segment
  for (let i = start; i < end; i++) {
    while (i >= base + (seg[bi] as Buffer).length) base += (seg[bi++] as Buffer).length;
    const byte = (seg[bi] as Buffer)[i - base] as number;
    counts[byte] = (counts[byte] as number) + 1;
  }
  let h = 0;
  for (const c of counts) if (c) h -= (c / n) * Math.log2(c / n);
  return h; // 16 KiB of random bytes measure about 7.99
}

/** The segment as stored deflate blocks, none final (each: a header byte 0, LEN and its complement, the bytes). */
function storedBlocks(seg: Buffer[]): Buffer {
  const size = seg.reduce((n, b) => n + b.length, 0);
  const out = Buffer.allocUnsafe(size + 5 * Math.ceil(size / maxStored));
  let o = 0;
  let bi = 0;
  let off = 0; // within seg[bi]
  for (let left = size; left > 0; ) {
    const len = Math.min(maxStored, left);
    out[o] = 0;
    out.writeUInt16LE(len, o + 1);
    out.writeUInt16LE(~len & 0xffff, o + 3);
    o += 5;
    for (let need = len; need > 0; ) {
      const b = seg[bi] as Buffer;
      const n = Math.min(need, b.length - off);
      b.copy(out, o, off, off + n);
      o += n;
      off += n;
      need -= n;
      if (off === b.length) {
        bi++;
        off = 0;
      }
    }
    left -= len;
  }
  return out;
}
