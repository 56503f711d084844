// A small Docker Engine API client over a unix socket or TCP, used by the berth CLI and the tests.
import type { Agent, IncomingMessage } from 'node:http';
import { type Socket, connect } from 'node:net';
import { PassThrough, type Readable, Writable } from 'node:stream';

export const clientApiVersion = '1.45';

/** An error answer from the daemon: Docker's `{"message": …}` with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The daemon could not be reached at all. */
export class ConnectError extends Error {
  constructor(readonly host: string, cause: unknown) {
    super(`Cannot connect to the Berth daemon at ${host}. Is the berth daemon running?`, { cause });
    this.name = 'ConnectError';
  }
}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  /**
   * JSON-encoded unless it is a Buffer, a stream, or a writer: a function that writes the body into the request
   * (not ending it), for senders that reuse their buffers and so must know when each write is done.
   */
  body?: unknown;
  headers?: Record<string, string>;
}

export function defaultHost(env: NodeJS.ProcessEnv = process.env): string {
  return env['BERTH_HOST'] || env['DOCKER_HOST'] || 'unix:///run/berth/berth.sock';
}

function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === false || v === '') continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.set(k, v === true ? '1' : String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** node:http, loaded by the first request that needs it (see EngineClient.exchange). */
let http: Promise<typeof import('node:http')> | undefined;
/** One request per connection: a CLI run must not keep an idle socket (and itself) alive. */
let agent: Agent | undefined;
const loadHttp = () =>
  (http ??= import('node:http').then((m) => {
    agent = new m.Agent({ keepAlive: false });
    return m;
  }));

export class EngineClient {
  private readonly target: { socketPath: string } | { host: string; port: number };

  constructor(readonly host: string = defaultHost()) {
    const url = new URL(host);
    if (url.protocol === 'unix:') this.target = { socketPath: url.pathname };
    else if (url.protocol === 'tcp:' || url.protocol === 'http:') this.target = { host: url.hostname, port: Number(url.port || 2375) };
    else throw new Error(`unsupported host ${host}`);
  }

  /**
   * How a request reaches the daemon. A unix socket is dialled directly: through an Agent, Node would work out a
   * TLS server name for it, whose first use compiles an IPv6 pattern that costs a CLI run ~9 ms.
   */
  private connection(): { createConnection: () => Socket } | { host: string; port: number; agent: Agent | undefined } {
    const t = this.target;
    return 'socketPath' in t ? { createConnection: () => connect(t.socketPath) } : { ...t, agent };
  }

  /** Sends a request and returns the raw response, whatever its status. */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const { request: httpRequest } = await loadHttp();
    const isStream = typeof (opts.body as Readable | undefined)?.pipe === 'function';
    const writer = typeof opts.body === 'function' ? (opts.body as (sink: Writable) => Promise<void>) : undefined;
    const isBuffer = Buffer.isBuffer(opts.body);
    const payload = opts.body === undefined || isStream || writer ? undefined : isBuffer ? (opts.body as Buffer) : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { ...opts.headers };
    if (payload) {
      headers['Content-Length'] = String(payload.length);
      headers['Content-Type'] ??= isBuffer ? 'application/octet-stream' : 'application/json';
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest({ ...this.connection(), method, path: `/v${clientApiVersion}${path}${encodeQuery(opts.query)}`, headers }, resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(connectError(this.host, e)));
      if (isStream) {
        // a failing body (a context file that vanished) must end the request, not leave it waiting for more
        (opts.body as Readable).once('error', (e) => req.destroy(e));
        (opts.body as Readable).pipe(req);
      } else if (writer) {
        writer(req).then(
          () => req.end(),
          (e: Error) => req.destroy(e),
        );
      } else req.end(payload);
    });
  }

  /** Sends a request; a status ≥ 400 becomes an ApiError carrying the daemon's message. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.raw(method, path, opts);
    if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, errorMessage(await readAll(res)));
    return res;
  }

  /**
   * A request whose body a writer streams and whose answer is read as it arrives (a build): over a unix socket
   * without node:http, as `exchange` (~8 ms of a CLI run to load): the body goes chunked, and the answer's body
   * comes out de-chunked as a stream, which ends the connection when destroyed. An error status is an ApiError.
   */
  stream(method: string, path: string, opts: RequestOptions & { body: (sink: Writable) => Promise<void> }): Promise<Readable> {
    const t = this.target;
    if (!('socketPath' in t)) return this.call(method, path, opts);
    const headers: Record<string, string> = { Host: 'localhost', ...opts.headers, 'Transfer-Encoding': 'chunked', Connection: 'close' };
    let head = `${method} /v${clientApiVersion}${path}${encodeQuery(opts.query)} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    return new Promise((resolve, reject) => {
      const sock = connect(t.socketPath);
      const out = new PassThrough();
      out.on('close', () => sock.destroy()); // the reader stopped (docker stops at a build's first error)
      let received: Buffer | undefined = Buffer.alloc(0); // until the head is whole
      let error: { status: number; parts: Buffer[] } | undefined;
      let dechunk: Dechunker | undefined;
      let answered = false; // resolved with `out`: from then on its reader hears of failures
      const fail = (e: Error) => (answered ? out.destroy(e) : reject(e));
      const failWithAnswer = () => error && fail(new ApiError(error.status, errorMessage(Buffer.concat(error.parts).toString('utf8'))));
      const body = (data: Buffer) => {
        if (error) return void error.parts.push(data);
        const pieces = dechunk ? dechunk.push(data) : [data];
        let room = true;
        for (const p of pieces) room = out.write(p) && room;
        if (dechunk?.done) out.end();
        else if (!room) {
          sock.pause();
          out.once('drain', () => sock.resume());
        }
      };
      sock.on('data', (c: Buffer) => {
        if (!received) return body(c);
        try {
          const h = parseHead((received = Buffer.concat([received, c])));
          if (!h) return;
          received = undefined;
          if (h.status >= 400) error = { status: h.status, parts: [] };
          else {
            if (isChunked(h)) dechunk = new Dechunker();
            answered = true;
            resolve(out);
          }
          body(h.rest);
        } catch (e) {
          fail(e as Error);
          sock.destroy();
        }
      });
      sock.on('end', () => {
        if (error) failWithAnswer();
        else if (received) fail(new Error('the daemon closed the connection without answering'));
        else if (dechunk && !dechunk.done) fail(new Error('the daemon closed the connection before the end of its answer'));
        else out.end();
      });
      // A daemon may answer (an error) and hang up before it has read the whole body: its answer is the one told.
      sock.on('error', (e: NodeJS.ErrnoException) => (error ? failWithAnswer() : fail(connectError(this.host, e))));
      sock.write(`${head}\r\n`);
      const framed = new Writable({
        write(chunk: Buffer, _enc, cb) {
          if (!chunk.length) return cb(); // an empty chunk would end the body
          sock.write(`${chunk.length.toString(16)}\r\n`);
          sock.write(chunk);
          sock.write('\r\n', (e) => cb(e));
        },
        final: (cb) => void sock.write('0\r\n\r\n', (e) => cb(e)),
      });
      framed.on('error', () => {}); // the socket's own error is the one told
      opts.body(framed).then(
        () => framed.end(),
        (e: Error) => {
          fail(e);
          sock.destroy();
        },
      );
    });
  }

  /**
   * Opens a hijacked connection (`Connection: Upgrade`, as `attach` needs): resolves with the raw socket after
   * the daemon's 101 answer; an error answer becomes an ApiError.
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Socket> {
    const { request: httpRequest } = await loadHttp();
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        ...this.connection(),
        method,
        path: `/v${clientApiVersion}${path}${encodeQuery(opts.query)}`,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'tcp',
          ...(payload && { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) }),
        },
      });
      req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
        // What the daemon sent right behind its 101 (an exec's error message, a quick command's whole output) came
        // in the same read as the headers: it goes back in front of the stream, or it would be lost.
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        readAll(res).then((text) => {
          let message = text.trim();
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
          } catch {
            // plain text
          }
          reject(new ApiError(res.statusCode ?? 500, message));
        }, reject);
      });
      req.on('error', (e: NodeJS.ErrnoException) => reject(connectError(this.host, e)));
      req.end(payload);
    });
  }

  /** Sends a request for its effect only: fails on an error status, discards the body. */
  async do(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    (await this.call(method, path, opts)).resume();
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const t = this.target;
    const simple = 'socketPath' in t && typeof (opts.body as Readable | undefined)?.pipe !== 'function';
    const text = simple ? await this.exchange(t.socketPath, method, path, opts) : await readAll(await this.call(method, path, opts));
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * One whole request and answer over a unix socket without node:http, whose modules cost a CLI run ~8 ms to
   * load: the request is written by hand with `Connection: close`, and the answer read to the end of the
   * connection and taken apart (a Content-Length or chunked body). Returns the body; an error status throws.
   */
  private exchange(socketPath: string, method: string, path: string, opts: RequestOptions): Promise<string> {
    const isBuffer = Buffer.isBuffer(opts.body);
    const payload = opts.body === undefined ? undefined : isBuffer ? (opts.body as Buffer) : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { Host: 'localhost', ...opts.headers };
    if (payload) {
      headers['Content-Length'] = String(payload.length);
      headers['Content-Type'] ??= isBuffer ? 'application/octet-stream' : 'application/json';
    } else if (method !== 'GET' && method !== 'HEAD') headers['Content-Length'] = '0';
    headers['Connection'] = 'close';
    let head = `${method} /v${clientApiVersion}${path}${encodeQuery(opts.query)} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const sock = connect(socketPath);
      sock.on('error', (e: NodeJS.ErrnoException) => reject(connectError(this.host, e)));
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('end', () => {
        try {
          const { status, body } = parseResponse(Buffer.concat(chunks), method === 'HEAD');
          const text = body.toString('utf8');
          if (status >= 400) reject(new ApiError(status, errorMessage(text)));
          else resolve(text);
        } catch (e) {
          reject(e as Error);
        }
      });
      // not end(): a server may take a half-closed connection for a client gone and drop the answer
      sock.write(payload ? Buffer.concat([Buffer.from(`${head}\r\n`), payload]) : `${head}\r\n`);
    });
  }

  /** Reads a JSON-lines stream (events, load/import progress), calling `onMessage` for each object. */
  async messages(res: AsyncIterable<unknown>, onMessage: (m: Record<string, unknown>) => void): Promise<void> {
    let buf = '';
    for await (const chunk of res) {
      buf += (chunk as Buffer).toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) onMessage(JSON.parse(line) as Record<string, unknown>);
      }
    }
    if (buf.trim()) onMessage(JSON.parse(buf) as Record<string, unknown>);
  }
}

export async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An answer's head: its status and headers (names in lower case), past interim (1xx) answers, and what follows. */
interface ResponseHead {
  status: number;
  header(name: string): string | undefined;
  rest: Buffer;
}

/** The head of the HTTP/1.1 answer `data` starts with; undefined while it is incomplete. */
function parseHead(data: Buffer): ResponseHead | undefined {
  for (;;) {
    const end = data.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const lines = data.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!m) throw new Error('malformed HTTP response from daemon');
    const status = Number(m[1]);
    const rest = data.subarray(end + 4);
    if (status >= 100 && status < 200) {
      data = rest; // an interim answer (100 Continue): the real one follows
      continue;
    }
    const header = (name: string) => lines.find((l) => l.slice(0, name.length + 1).toLowerCase() === `${name}:`)?.slice(name.length + 1).trim();
    return { status, header, rest };
  }
}

const isChunked = (h: ResponseHead) => !!h.header('transfer-encoding')?.toLowerCase().includes('chunked');

/** Undoes chunked transfer coding as the bytes arrive: `push` gives the data pieces; `done` after the last chunk. */
class Dechunker {
  done = false;
  private pending = Buffer.alloc(0); // an incomplete size line, or the CRLF after a chunk
  private left = 0; // data bytes of the current chunk still to come
  private crlf = 0; // bytes of the CRLF after a chunk's data still to skip

  push(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let d = data;
    while (d.length && !this.done) {
      if (this.left) {
        const piece = d.subarray(0, this.left);
        out.push(piece);
        this.left -= piece.length;
        d = d.subarray(piece.length);
        if (!this.left) this.crlf = 2;
        continue;
      }
      if (this.crlf) {
        const skip = Math.min(this.crlf, d.length);
        this.crlf -= skip;
        d = d.subarray(skip);
        continue;
      }
      const line = this.pending.length ? Buffer.concat([this.pending, d]) : d;
      const nl = line.indexOf('\r\n');
      if (nl < 0) {
        this.pending = Buffer.from(line);
        break;
      }
      this.pending = Buffer.alloc(0);
      const size = parseInt(line.subarray(0, nl).toString('latin1'), 16); // ";extensions" end the number
      if (Number.isNaN(size)) throw new Error('malformed chunked response from daemon');
      d = line.subarray(nl + 2);
      if (size === 0) this.done = true; // trailers, if any, are not read
      else this.left = size;
    }
    return out;
  }
}

/** An HTTP/1.1 answer read to the end of its connection: the status and the body (de-chunked). */
export function parseResponse(data: Buffer, noBody = false): { status: number; body: Buffer } {
  const h = parseHead(data);
  if (!h) throw new Error('malformed HTTP response from daemon');
  if (noBody || h.status === 204 || h.status === 304) return { status: h.status, body: Buffer.alloc(0) };
  if (isChunked(h)) return { status: h.status, body: Buffer.concat(new Dechunker().push(h.rest)) }; // cut short: what arrived
  const length = h.header('content-length');
  return { status: h.status, body: length === undefined ? h.rest : h.rest.subarray(0, Number(length)) };
}

/** A connection failure: the daemon not there (or not ours to reach) is a ConnectError. */
function connectError(host: string, e: NodeJS.ErrnoException): Error {
  return ['ECONNREFUSED', 'ENOENT', 'EACCES'].includes(e.code ?? '') ? new ConnectError(host, e) : e;
}

/** An error answer's body as Docker's clients tell it: its `message`, else the text. */
function errorMessage(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text.trim();
  } catch {
    return text.trim(); // plain-text error body
  }
}
