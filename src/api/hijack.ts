// Hijacked connections (attach, exec start): after the 101 answer the socket carries raw stdin one way and
// output (framed, or raw for a TTY) the other. Docker's detach keys are recognised in the input here, as
// dockerd does it, so any client can detach.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
export { parseDetachKeys } from '../util/detach-keys.js';

/** Answers the upgrade: from here on the socket is a raw stream of this content type. */
export function upgrade(socket: Duplex, tty: boolean): void {
  const type = tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream';
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
}

/**
 * The request body of a hijacked request (exec start sends JSON): Node's parser stops at the headers, so the
 * body is the first Content-Length bytes of the raw stream; what follows is already input.
 */
export async function readHijackBody(raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: string; rest: Buffer }> {
  const length = Number(raw.headers['content-length'] ?? 0);
  let buf = head;
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (c: Buffer) => done(c);
      const onEnd = () => done(null);
      const done = (c: Buffer | null) => {
        socket.off('data', onData).off('end', onEnd).off('close', onEnd);
        socket.pause();
        resolve(c);
      };
      socket.on('data', onData).once('end', onEnd).once('close', onEnd);
      socket.resume();
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  return { body: buf.subarray(0, length).toString('utf8'), rest: buf.subarray(length) };
}

/**
 * Copies the client's input to `sink` until the client half-closes (then `end`) or types the detach sequence
 * (then `detach`; the input up to it is delivered, the sequence itself is not). A prefix of the sequence is
 * held back until the next bytes show whether it is one.
 */
export function pumpInput(
  socket: Duplex,
  first: Buffer,
  keys: Buffer,
  sink: { data: (b: Buffer) => Promise<void>; end: () => Promise<void>; detach: () => void },
): void {
  let held = Buffer.alloc(0);
  let chain = Promise.resolve();
  let detached = false;
  const feed = (chunk: Buffer) => {
    if (detached) return;
    const buf = Buffer.concat([held, chunk]);
    let out = buf;
    held = Buffer.alloc(0);
    const at = keys.length ? buf.indexOf(keys) : -1;
    if (at >= 0) {
      detached = true;
      out = buf.subarray(0, at);
    } else {
      // Hold back the longest tail that could start the sequence.
      for (let n = Math.min(keys.length - 1, buf.length); n > 0; n--) {
        if (buf.subarray(buf.length - n).equals(keys.subarray(0, n))) {
          held = buf.subarray(buf.length - n);
          out = buf.subarray(0, buf.length - n);
          break;
        }
      }
    }
    if (out.length) chain = chain.then(() => sink.data(Buffer.from(out))).catch(() => {});
    if (detached) {
      socket.off('data', feed);
      chain = chain.then(() => sink.detach()); // `chain` never rejects: each step catches
    }
  };
  if (first.length) feed(first);
  socket.on('data', feed);
  socket.once('end', () => {
    if (detached) return;
    if (held.length) chain = chain.then(() => sink.data(held)).catch(() => {});
    void chain.then(() => sink.end()).catch(() => {});
  });
  socket.resume();
}
