// Hijacked connections (attach, exec start): after the 101 answer the socket carries raw stdin one way and
// output (framed, or raw for a TTY) the other. Docker's detach keys are recognised in the input here, as
// dockerd does it, so any client can detach. The same sessions are served without an upgrade too (dockerode's
// plain attach): then the output is the body of a 200 that runs to the end of the connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { InvalidArgument } from '../errors/index.js';
export { parseDetachKeys } from '../util/detach-keys.js';

const contentType = (tty: boolean) => (tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');

/** Sockets that got their 101: a failure after it can no longer be an HTTP answer, only a closed connection. */
const upgraded = new WeakSet<Duplex>();

/** Answers the upgrade: from here on the socket is a raw stream of this content type. */
export function upgrade(socket: Duplex, tty: boolean): void {
  upgraded.add(socket);
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType(tty)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
}

export function isUpgraded(socket: Duplex): boolean {
  return upgraded.has(socket);
}

/**
 * Where a session's output goes and its input comes from: the hijacked socket, or (without an upgrade) the
 * response, with no input.
 */
export interface Session {
  out: Writable;
  input?: Duplex;
  /** Input that came with the request, before the session began. */
  first: Buffer;
  /** Answers the request: output follows, framed unless `tty`. */
  begin(tty: boolean): void;
  /** Ends the session from our side, after `last` and whatever was written before it. */
  close(last?: Buffer): void;
}

/** A session on a hijacked socket. */
export function socketSession(socket: Duplex, first: Buffer): Session {
  return { out: socket, input: socket, first, begin: (tty) => upgrade(socket, tty), close: (last) => closeSocket(socket, last) };
}

/**
 * A session in a response body, as dockerd answers attach or exec start without an upgrade: a 200 with the
 * stream's content type, the output unchunked until the connection closes.
 */
export function responseSession(res: ServerResponse): Session {
  return {
    out: res,
    first: Buffer.alloc(0),
    begin: (tty) => {
      res.removeHeader('Content-Length');
      res.removeHeader('Transfer-Encoding');
      res.writeHead(200, { 'Content-Type': contentType(tty), Connection: 'close' });
      res.flushHeaders();
    },
    close: (last) => {
      if (!res.writableEnded) res.end(last);
    },
  };
}

/**
 * Closes a hijacked connection both ways once what was written is flushed, as dockerd closes it: a client that
 * goes on writing sees the connection gone, not a half-open socket that swallows its input.
 */
export function closeSocket(socket: Duplex, last?: Buffer): void {
  if (socket.destroyed) return;
  socket.resume(); // input that still arrives is dropped, not left unread (which would reset the client)
  if (socket.writableEnded) return;
  socket.end(last, () => socket.destroy());
}

/** Resolves when `out` can take more, or is gone. */
export function drained(out: Writable): Promise<void> {
  if (out.destroyed || out.writableFinished || !out.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    out.on('drain', done).on('close', done).on('error', done);
  });
}

/** Exec start bodies are a few bytes of JSON: more than this is not one. */
const maxBody = 1 << 20;

/**
 * The request body of a hijacked request (exec start sends JSON): Node's parser stops at the headers, so the
 * body is the first Content-Length bytes of the raw stream; what follows is already input. A client that goes
 * away before sending it all leaves what came.
 */
export async function readHijackBody(raw: IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: string; rest: Buffer }> {
  const length = Number(raw.headers['content-length'] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0 || length > maxBody) throw new InvalidArgument('invalid request body length');
  let buf = head;
  while (buf.length < length && !socket.destroyed && !socket.readableEnded) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const onData = (c: Buffer) => done(c);
      const onEnd = () => done(null);
      const done = (c: Buffer | null) => {
        socket.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onEnd);
        socket.pause();
        resolve(c);
      };
      socket.on('data', onData).once('end', onEnd).once('close', onEnd).once('error', onEnd);
      socket.resume();
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  return { body: buf.subarray(0, length).toString('utf8'), rest: buf.subarray(length) };
}

/**
 * Copies the client's input to `sink` until the client half-closes or goes away (then `end`) or types the detach
 * sequence (then `detach`; the input up to it is delivered, the sequence itself is not). A prefix of the sequence
 * is held back until the next bytes show whether it is one. The sink's calls run one at a time, in order; their
 * failures end nothing but the delivery of that input.
 */
export function pumpInput(
  socket: Duplex,
  first: Buffer,
  keys: Buffer,
  sink: { data: (b: Buffer) => Promise<void>; end: () => Promise<void> | void; detach: () => void },
): void {
  let held = Buffer.alloc(0);
  let chain = Promise.resolve();
  let finished = false;
  const then = (step: () => Promise<void> | void) => {
    chain = chain.then(step).catch(() => {}); // the container's stdin is gone: nothing more to deliver
  };
  const feed = (chunk: Buffer) => {
    if (finished) return;
    const buf = Buffer.concat([held, chunk]);
    let out = buf;
    held = Buffer.alloc(0);
    const at = keys.length ? buf.indexOf(keys) : -1;
    if (at >= 0) {
      finished = true;
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
    if (out.length) {
      const data = Buffer.from(out);
      then(() => sink.data(data));
    }
    if (finished) then(() => sink.detach());
  };
  const end = () => {
    if (finished) return;
    finished = true;
    const rest = held;
    if (rest.length) then(() => sink.data(rest));
    then(() => sink.end());
  };
  if (first.length) feed(first);
  socket.on('data', feed);
  // A half-close ends the input; so does a client that vanished (reset or closed without one).
  socket.once('end', end);
  socket.once('close', end);
  socket.resume();
}
