import { Transform } from 'node:stream';

/**
 * Joins small chunks into chunks of at least `min` bytes (the last may be smaller). Each chunk a stream carries
 * downstream can become a zlib call or a file write in the threadpool, and on these VMs every such round trip
 * (a queued job and a futex wake) costs tens of microseconds: a socket's 64 KiB reads made thousands of them per
 * layer. One copy of the bytes is far cheaper.
 */
export function batchChunks(min = 1 << 20): Transform {
  let parts: Buffer[] = [];
  let size = 0;
  const flush = (t: Transform) => {
    if (size === 0) return;
    t.push(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
    parts = [];
    size = 0;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= min) flush(this);
      cb();
    },
    flush(cb) {
      flush(this);
      cb();
    },
  });
}
