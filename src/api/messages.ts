import type { ServerResponse } from 'node:http';
import { Status, toHttpError } from './errors.js';

/**
 * Docker's JSON message stream (build, pull): one JSON object per line. The status line goes out with the first
 * message, so that a failure before it is still a plain HTTP error (dockerd's rule); after it, a failure is the
 * stream's last message. `signal` aborts when the client goes away.
 */
export class MessageStream {
  private started = false;
  private readonly abort = new AbortController();
  private readonly cancel = () => this.abort.abort();

  constructor(private readonly res: ServerResponse) {
    res.once('close', this.cancel);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  send(message: object): void {
    if (!this.started) {
      this.res.writeHead(Status.OK, { 'Content-Type': 'application/json' });
      this.started = true;
    }
    if (this.res.destroyed) return;
    // Messages sent in one tick (a cached build's steps) leave in one write.
    if (!this.res.writableCorked) {
      this.res.cork();
      process.nextTick(() => this.res.uncork());
    }
    this.res.write(`${JSON.stringify(message)}\r\n`);
  }

  /** Ends the stream with `e` as its last message; before any message, rethrows it for an HTTP error. */
  fail(e: unknown, code?: number): void {
    if (!this.started) throw e;
    const { message } = toHttpError(e);
    this.send({ errorDetail: { ...(code !== undefined && { code }), message }, error: message });
  }

  end(): void {
    this.res.off('close', this.cancel);
    if (this.started) this.res.end();
  }
}
