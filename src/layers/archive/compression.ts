import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgument, isBerthError } from '../../errors/index.js';
import { gunzipChunks } from './gunzip.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * Undoes gzip or zstd by sniffing the first bytes, as Docker does for layers and `import` input; a plain tar
 * passes through. Node 20's zlib has no zstd, so Debian's `zstd` binary decodes it (one process per layer).
 * Corrupt input fails the returned stream with InvalidArgument.
 */
export function decompress(input: Readable | AsyncIterable<Uint8Array>): Readable {
  return Readable.from(decompressed(input), { objectMode: false });
}

async function* decompressed(input: Readable | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  try {
    let head = Buffer.alloc(0);
    let ended = false;
    while (head.length < 4) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head = Buffer.concat([head, r.value]);
    }
    async function* rest(): AsyncGenerator<Uint8Array> {
      if (head.length) yield head;
      while (!ended) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    const kind = detectCompression(head);
    if (kind === 'gzip') {
      try {
        yield* gunzipChunks(rest());
      } catch (e) {
        throw new InvalidArgument(`invalid gzip stream: ${(e as Error).message}`, { cause: e });
      }
    } else if (kind === 'zstd') {
      const child = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
      try {
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<number>((res, rej) => child.on('error', rej).on('close', (code) => res(code ?? 1)));
        exited.catch(() => {}); // awaited below; a spawn failure also ends stdout
        const feed = pipeline(rest(), child.stdin).catch(() => {}); // zstd may stop reading early on bad input
        yield* child.stdout as AsyncIterable<Buffer>;
        await feed;
        const code = await exited;
        if (code !== 0) throw new InvalidArgument(`invalid zstd stream: ${stderr.trim() || `zstd exited with ${code}`}`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill();
      }
    } else {
      yield* rest();
    }
  } catch (e) {
    throw isBerthError(e) ? e : new InvalidArgument(`cannot read layer: ${(e as Error).message}`, { cause: e });
  }
}
