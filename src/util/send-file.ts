// Files and buffers into a stream, with the memory they pass through reused: on this VM a fresh buffer's pages
// are faulted in as it is first written, and for big transfers that cost more than the copies themselves.
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';

/**
 * Writes `chunk` into `sink`, waiting for 'drain' when the sink asks; rejects if the sink fails or closes first.
 * For small pieces between sendFileRange's (tar headers): they are not reused, so only back-pressure matters.
 */
export async function writeTo(sink: Writable, chunk: Uint8Array): Promise<void> {
  if (sink.destroyed) throw new Error('the receiver closed the stream');
  if (sink.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => {
      sink.off('drain', drained);
      sink.off('close', closed);
      sink.off('error', done);
      if (e) reject(e);
      else resolve();
    };
    const drained = () => done();
    const closed = () => done(new Error('the receiver closed the stream'));
    sink.once('drain', drained);
    sink.once('close', closed);
    sink.once('error', done);
  });
}

/**
 * Streams bytes `start`…`end` (inclusive) of the file at `path` into `sink`, reading up to 2 MiB at a time into
 * two buffers used in turn: one is read into while the other is being written, and neither is reused before its
 * write is done. Why not createReadStream: it allocates a fresh buffer per read, and a fresh buffer this size is
 * mapped and page-faulted in each time, which cost as much CPU as the copies themselves when berth-registry served
 * 8 concurrent pulls; 2 MiB reads beat 1 MiB (fewer threadpool jobs and socket writes) and 4 MiB lost again.
 * Rejects when the file ends early, or the sink fails or closes first. `onBytes` sees each read's size; `buffers`
 * (2 MiB each, made on first use) are kept for the next file of one sink, which may reuse them once this resolves.
 */
export async function sendFileRange(path: string, start: number, end: number, sink: Writable, o: { onBytes?: (n: number) => void; buffers?: Buffer[] } = {}): Promise<void> {
  const fh = await open(path, 'r');
  let gone = () => {};
  const closed = new Promise<never>((_, reject) => {
    gone = () => reject(new Error('the receiver closed the stream'));
    if (sink.destroyed) gone();
    sink.once('close', gone);
  });
  closed.catch(() => {});
  const written = (b: Buffer) => new Promise<void>((resolve, reject) => sink.write(b, (e) => (e ? reject(e) : resolve())));
  const buffers = o.buffers ?? [];
  const size = o.buffers ? 2 << 20 : Math.min(2 << 20, end - start + 1);
  const inflight: Array<Promise<void> | undefined> = [undefined, undefined];
  try {
    for (let pos = start, turn = 0; pos <= end; turn ^= 1) {
      await Promise.race([inflight[turn], closed]);
      const buffer = (buffers[turn] ??= Buffer.allocUnsafeSlow(size));
      const { bytesRead } = await fh.read(buffer, 0, Math.min(buffer.length, end - pos + 1), pos);
      if (bytesRead === 0) throw new Error(`${path} ended at ${pos}, before ${end + 1}`);
      pos += bytesRead;
      o.onBytes?.(bytesRead);
      const write = written(buffer.subarray(0, bytesRead));
      write.catch(() => {}); // awaited in its next turn or below
      inflight[turn] = write;
    }
    await Promise.race([Promise.all(inflight), closed]);
  } finally {
    // A buffer the sink still holds (it closed early) is left to it, never reused.
    sink.off('close', gone); // one sink may take many files (a build context)
    await fh.close();
  }
}
