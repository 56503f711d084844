import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import type { TransformCallback } from 'node:stream';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';

/**
 * SHA-256 of a stream, computed on another thread when the stream is big (and the CRC-32 gzip ends with, always in
 * place: zlib's runs at ~4 GB/s here, faster than the ring's copy would be).
 *
 * Why: a pull hashes every byte twice (the blob's digest and the layer's diff ID), a push twice as well, and on
 * the daemon's main thread those hashes were a quarter of its CPU, in series with the HTTP parsing, the tar
 * parsing and the file writes. One worker thread hashes for every stream of the process: `update` copies the
 * chunk into the stream's ring of shared memory (a memcpy, ~20 times faster than hashing it), and the worker
 * hashes from there while the main thread goes on. Small streams are hashed in place: a ring and a message cost
 * more than they save.
 */
export interface StreamHash {
  /** Takes a copy of `chunk`; a promise when the ring is full (the caller waits for the worker to catch up). */
  update(chunk: Uint8Array): void | Promise<void>;
  /** The hex digest of everything given, once the worker has hashed it all. */
  digest(): Promise<string>;
}

/** Past this many bytes a stream moves to the worker; shorter ones are hashed in place at the end. */
const offThreadFrom = 1 << 20;
const ringBytes = 4 << 20;
/** The worker is woken once this much is waiting, or at the end, or when the ring is full: not per chunk. */
const wakeEvery = 512 << 10;
/** An idle worker is stopped after this long. */
const idleMs = 30_000;

/**
 * SHA-256 of a stream; the digest in hex. `here` hashes on the calling thread: right for a process whose main
 * thread has little else to do (berth-registry receiving an upload), where the ring's copy and the worker's
 * wake-ups cost more than they save (measured: a fifth of the registry's CPU for a 200 MB push).
 * `size`, when the stream's length is known beforehand, decides at once where a `worker` stream is hashed: the
 * first MiB is then not kept (copied) while the stream proves long.
 */
export function sha256Stream(where: 'worker' | 'here' = 'worker', size?: number): StreamHash {
  if (where === 'here' || (size !== undefined && size <= offThreadFrom)) return inPlace();
  return size === undefined ? offThread() : toWorker();
}

/**
 * CRC-32 of a stream (as gzip's trailer holds it); the digest is the value in hex. In place: zlib's CRC runs at
 * ~4 GB/s here, the copy into a ring at ~2 GB/s, and on the hashing thread a push's berthd used ~15 % more CPU.
 */
export function crc32Stream(): { update(chunk: Uint8Array): void; digest(): Promise<string> } {
  let crc = 0;
  return {
    update: (chunk) => void (crc = crc32(chunk, crc)),
    digest: () => Promise.resolve((crc >>> 0).toString(16)),
  };
}

function offThread(): StreamHash {
  // The first MiB is kept (copied) until the stream proves longer; then it goes to the worker, and the rest with it.
  let head: Buffer[] = [];
  let headBytes = 0;
  let moved: StreamHash | undefined;
  return {
    update(chunk) {
      if (moved) return moved.update(chunk);
      if (headBytes + chunk.length <= offThreadFrom) {
        head.push(Buffer.from(chunk));
        headBytes += chunk.length;
        return;
      }
      moved = toWorker();
      const to = moved;
      const feed = (bufs: Uint8Array[]): void | Promise<void> => {
        for (let i = 0; i < bufs.length; i++) {
          const full = to.update(bufs[i] as Uint8Array);
          if (full) return full.then(() => feed(bufs.slice(i + 1)));
        }
      };
      const first = [...head, chunk];
      head = [];
      return feed(first);
    },
    digest() {
      if (moved) return moved.digest();
      const here = inPlace();
      for (const b of head) here.update(b);
      return here.digest();
    },
  };
}

function toWorker(): StreamHash {
  try {
    return hasher().open();
  } catch {
    return inPlace(); // no worker (out of threads or memory): hashing here is slower, never wrong
  }
}

/** A hash on this thread: never waits. */
function inPlace(): { update(chunk: Uint8Array): void; digest(): Promise<string> } {
  const hash = createHash('sha256');
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => Promise.resolve(hash.digest('hex')),
  };
}

const nativeCrc32 = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;

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
export function crc32(data: Uint8Array, prev: number): number {
  if (nativeCrc32) return nativeCrc32(data, prev);
  let c = ~prev;
  for (let i = 0; i < data.length; i++) c = (crcTable[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

// Control words of a stream (a BigInt64Array on shared memory), and of the process-wide doorbell (an Int32Array).
const WRITTEN = 0; // bytes put in the ring so far (main thread)
const READ = 1; // bytes hashed so far (worker)
const ENDED = 2; // 1 once the main thread has given everything

/**
 * The worker: it takes new streams from its port without blocking, hashes whatever each ring holds, answers each
 * ended stream with its digest, and sleeps on the doorbell when there is nothing to do.
 */
const workerSource = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const bell = new Int32Array(workerData.bell);
const streams = new Map();
for (;;) {
  const ring = Atomics.load(bell, 0);
  for (let m; (m = receiveMessageOnPort(workerData.port)); ) {
    if (m.message === 'exit') process.exit(0);
    if (m.message.drop) {
      streams.delete(m.message.drop);
      continue;
    }
    const { id, ring, control } = m.message;
    streams.set(id, { ring: Buffer.from(ring), control: new BigInt64Array(control), hash: createHash('sha256'), read: 0n });
  }
  let busy = false;
  for (const [id, s] of streams) {
    const ended = Atomics.load(s.control, ${ENDED}) === 1n;
    const written = Atomics.load(s.control, ${WRITTEN});
    if (written !== s.read) {
      const size = s.ring.length;
      let from = Number(s.read % BigInt(size));
      let left = Number(written - s.read);
      while (left > 0) {
        const n = Math.min(left, size - from);
        s.hash.update(s.ring.subarray(from, from + n));
        left -= n;
        from = 0;
      }
      s.read = written;
      Atomics.store(s.control, ${READ}, written);
      Atomics.notify(s.control, ${READ});
      busy = true;
    }
    if (ended) {
      streams.delete(id);
      parentPort.postMessage({ id, hex: s.hash.digest('hex') });
    }
  }
  if (!busy) Atomics.wait(bell, 0, ring);
}`;

interface Pending {
  resolve(hex: string): void;
  reject(e: Error): void;
  /** Free again once the worker has answered (it reads no more of it then). */
  ring: SharedArrayBuffer;
}

const maxSpareRings = 8;

/** The process's hashing worker: started on first use, stopped when idle, replaced if it dies. */
class Hasher {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private readonly bell = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /**
   * Rings of finished streams, for the next ones: a fresh ring's pages are faulted in as it first fills, 1024 faults
   * a stream, and on this VM that cost as much as the copies. Let go of when the worker stops.
   */
  private readonly spareRings: SharedArrayBuffer[] = [];
  private idle: NodeJS.Timeout | undefined;
  /** A stream dropped before its digest (its download failed, say) is forgotten by the worker too. */
  private readonly abandoned = new FinalizationRegistry<number>((id) => {
    if (!this.pending.delete(id)) return;
    this.port?.postMessage({ drop: id });
    this.settled();
  });

  ring(): void {
    Atomics.add(this.bell, 0, 1);
    Atomics.notify(this.bell, 0);
  }

  open(): StreamHash {
    const { worker, port } = this.start();
    clearTimeout(this.idle);
    worker.ref(); // a stream being hashed keeps the process alive, as its own I/O would
    const id = this.nextId++;
    const ring = this.spareRings.pop() ?? new SharedArrayBuffer(ringBytes);
    const control = new BigInt64Array(new SharedArrayBuffer(3 * 8));
    const view = Buffer.from(ring);
    const result = new Promise<string>((resolve, reject) => this.pending.set(id, { resolve, reject, ring }));
    // Seen by digest(). The handler is made out here: a closure made in open() would hold its scope, the stream
    // with it, from `pending`, and the stream could never be collected as abandoned.
    result.catch(ignore);
    port.postMessage({ id, ring, control: control.buffer });
    this.ring();
    let written = 0n;
    let unannounced = 0;
    const put = (chunk: Uint8Array): void | Promise<void> => {
      for (let off = 0; off < chunk.length; ) {
        const free = ringBytes - Number(written - Atomics.load(control, READ));
        if (free === 0) {
          this.ring();
          unannounced = 0;
          const seen = Atomics.load(control, READ);
          if (written !== seen + BigInt(ringBytes)) continue; // the worker made room meanwhile
          const rest = chunk.subarray(off);
          const wait = waitAsync(control, READ, seen);
          // The worker may die while we wait: its exit rejects `result`, and that ends the wait too.
          return (wait.async ? Promise.race([wait.value, result]) : Promise.resolve()).then(() => put(rest));
        }
        const at = Number(written % BigInt(ringBytes));
        const n = Math.min(free, chunk.length - off, ringBytes - at);
        // Buffer#fill with a buffer is a native memcpy; TypedArray#set into shared memory is V8's relaxed-atomic
        // copy, byte by byte when the two sides are not aligned alike: it cost as much as hashing.
        view.fill(chunk.subarray(off, off + n), at, at + n);
        off += n;
        written += BigInt(n);
        Atomics.store(control, WRITTEN, written);
        unannounced += n;
      }
      if (unannounced >= wakeEvery) {
        this.ring();
        unannounced = 0;
      }
    };
    const stream: StreamHash = {
      update: put,
      digest: () => {
        this.abandoned.unregister(stream);
        Atomics.store(control, ENDED, 1n);
        this.ring();
        return result;
      },
    };
    this.abandoned.register(stream, id, stream);
    return stream;
  }

  /** A stream is done: with none left, the worker no longer keeps the process alive, and stops if still idle later. */
  private settled(): void {
    if (this.pending.size) return;
    this.worker?.unref();
    this.stopWhenIdle();
  }

  private start(): { worker: Worker; port: MessagePort } {
    if (this.worker && this.port) return { worker: this.worker, port: this.port };
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(workerSource, { eval: true, workerData: { bell: this.bell.buffer, port: port2 }, transferList: [port2] });
    port1.unref(); // a process with nothing else to do does not wait for its idle hasher
    worker.on('message', ({ id, hex }: { id: number; hex: string }) => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (p && this.spareRings.length < maxSpareRings) this.spareRings.push(p.ring);
      p?.resolve(hex);
      this.settled();
    });
    const failed = (e: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.port = undefined;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', failed);
    worker.on('exit', (code) => failed(new Error(`the hashing thread exited (${code})`)));
    this.worker = worker;
    this.port = port1;
    return { worker, port: port1 };
  }

  private stopWhenIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.pending.size || !this.port) return;
      // Let go of it first: a stream opened from now on starts a new worker rather than race this one's exit.
      const port = this.port;
      this.worker = undefined;
      this.port = undefined;
      this.spareRings.length = 0;
      port.postMessage('exit');
      this.ring();
    }, idleMs);
    this.idle.unref();
  }
}

const ignore = () => {};

/** Atomics.waitAsync (in V8 and Node 20; TypeScript's lib has it from es2024 on). */
const waitAsync = (Atomics as unknown as { waitAsync(a: BigInt64Array, i: number, v: bigint): { async: boolean; value: Promise<string> | string } }).waitAsync;

let shared: Hasher | undefined;
const hasher = () => (shared ??= new Hasher());

/** For a Transform that hashes what passes: `chunk` goes on once `update` has its copy (at once, unless the ring was full). */
export function passOn(updated: void | Promise<void>, chunk: Buffer, cb: TransformCallback): void {
  if (updated) updated.then(() => cb(null, chunk), cb);
  else cb(null, chunk);
}
