// gzip decoding with a fast path for stored blocks. Incompressible layers (media, compressed files, random data)
// arrive as runs of deflate blocks stored as they are: zlib would copy each through its window and compute the
// CRC, in a threadpool job per input chunk. Here their bytes are passed on as they sit in the input, uncopied. The first
// block that is really compressed, and the rest of its member, go to zlib's raw inflate, primed with the last
// 32 KiB of output as its dictionary. The gzip CRC and length are not checked: a layer's compressed digest and
// its diff ID are, which is stronger. Hand-written because zlib has no mode that skips stored blocks' copies.
import { type InflateRaw, createInflateRaw } from 'node:zlib';

const windowSize = 32 << 10;
/** zlib is given and gives chunks of 1 MiB: each is a threadpool job, and on VMs the wake-up of a job costs tens of µs. */
const outputChunk = 1 << 20;
const inputChunk = 1 << 20;

/** Pulls bytes from chunks as needed, without copying unless a read spans chunks. */
class Reader {
  private chunks: Buffer[] = [];
  private size = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  /** Whether at least `n` bytes are there (reading more input if needed). */
  async has(n: number): Promise<boolean> {
    while (this.size < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (r.value.length) this.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length));
    }
    return this.size >= n;
  }

  async take(n: number): Promise<Buffer> {
    if (!(await this.has(n))) throw new Error('unexpected end of file');
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return this.consume(n);
    const out = Buffer.allocUnsafe(n);
    for (let at = 0; at < n; ) at += this.consume(n - at).copy(out, at);
    return out;
  }

  /** Up to `n` bytes, at least one, from the first chunk: no copy. */
  async upTo(n: number): Promise<Buffer> {
    if (!(await this.has(1))) throw new Error('unexpected end of file');
    return this.consume(Math.min(n, (this.chunks[0] as Buffer).length));
  }

  /** `n` bytes, or fewer at the end of the input (joined from several chunks if need be); undefined at the end. */
  async atLeast(n: number): Promise<Buffer | undefined> {
    if (!(await this.has(1))) return undefined;
    await this.has(n);
    return this.take(Math.min(n, this.size));
  }

  /** Puts bytes back in front (what a raw inflate did not use). */
  unshift(b: Buffer): void {
    this.chunks.unshift(b);
    this.size += b.length;
  }

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }

  /** Up to `n` bytes of the first chunk. */
  private consume(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    const out = first.subarray(0, n);
    if (out.length === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(out.length);
    this.size -= out.length;
    return out;
  }
}

/** The gzip member header (RFC 1952): magic, method 8, then the optional fields its flags announce. */
async function readHeader(r: Reader): Promise<void> {
  const h = await r.take(10);
  if (h[0] !== 0x1f || h[1] !== 0x8b) throw new Error('incorrect header check');
  if (h[2] !== 8) throw new Error('unknown compression method');
  const flags = h[3] as number;
  if (flags & 4) await r.take((await r.take(2)).readUInt16LE(0)); // FEXTRA
  for (const bit of [8, 16]) {
    // FNAME, FCOMMENT: zero-terminated
    if (flags & bit) while ((await r.take(1))[0] !== 0);
  }
  if (flags & 2) await r.take(2); // FHCRC
}

/** The last 32 KiB of output, for a raw inflate that starts mid-stream. */
class Window {
  private parts: Buffer[] = [];
  private size = 0;
  add(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
    while (this.parts.length > 1 && this.size - (this.parts[0] as Buffer).length >= windowSize) this.size -= (this.parts.shift() as Buffer).length;
  }
  tail(): Buffer {
    const all = Buffer.concat(this.parts);
    return all.subarray(Math.max(0, all.length - windowSize));
  }
}

/** Decodes a gzip stream (one or more members) into its bytes. Errors are zlib's words where zlib's apply. */
export async function* gunzipChunks(input: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const r = new Reader(input[Symbol.asyncIterator]());
  let members = 0;
  while (members === 0 || (await r.has(1))) {
    await readHeader(r);
    const window = new Window();
    for (let final = false; !final; ) {
      const b = (await r.take(1))[0] as number;
      final = (b & 1) === 1;
      const type = (b >> 1) & 3;
      if (type === 3) throw new Error('invalid block type');
      if (type !== 0) {
        // The rest of this member is zlib's; it stops at the member's end and gives back what follows.
        r.unshift(Buffer.from([b]));
        yield* inflateRest(r, window.tail());
        break;
      }
      const lens = await r.take(4);
      const len = lens.readUInt16LE(0);
      if (len !== (~lens.readUInt16LE(2) & 0xffff)) throw new Error('invalid stored block lengths');
      for (let left = len; left > 0; ) {
        const part = await r.upTo(left);
        left -= part.length;
        window.add(part);
        yield part;
      }
    }
    await r.take(8); // CRC-32 and ISIZE
    members++;
  }
}

/** Raw inflate from the reader's position to the end of the deflate data; what follows is put back. */
async function* inflateRest(r: Reader, dictionary: Buffer): AsyncGenerator<Buffer> {
  const inf: InflateRaw = createInflateRaw({ chunkSize: outputChunk, ...(dictionary.length && { dictionary }) });
  const ready: Buffer[] = [];
  let failed: Error | undefined;
  inf.on('data', (c: Buffer) => ready.push(c));
  inf.on('error', (e: Error) => (failed = e));
  // Output is taken as it comes ('data'), so zlib never waits for a reader; it is all out when a write's callback runs.
  const write = (b: Buffer) => new Promise<Error | null | undefined>((res) => inf.write(b, res));
  let fed = 0;
  try {
    for (;;) {
      const chunk = await r.atLeast(inputChunk);
      if (!chunk) {
        // The input ended inside the deflate data (a whole stream always has its trailer after it).
        await new Promise<void>((res) => inf.end(() => res()));
        throw failed ?? new Error('unexpected end of file');
      }
      fed += chunk.length;
      const err = await write(chunk);
      if (err ?? failed) throw err ?? failed;
      yield* ready.splice(0);
      // zlib consumed less than it was given: the deflate data ended inside this chunk.
      const over = fed - inf.bytesWritten;
      if (over > 0) {
        r.unshift(chunk.subarray(chunk.length - over));
        return;
      }
    }
  } finally {
    inf.destroy();
  }
}
