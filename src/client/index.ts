// A small Docker Engine API client over a unix socket or TCP, used by the berth CLI and the tests.
import { Agent, type IncomingMessage, request as httpRequest } from 'node:http';
import { type Socket, connect } from 'node:net';
import type { Readable } from 'node:stream';

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
  /** JSON-encoded unless it is a Buffer or a stream. */
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

/** One request per connection: a CLI run must not keep an idle socket (and itself) alive. */
const agent = new Agent({ keepAlive: false });

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
  private connection(): { createConnection: () => Socket } | { host: string; port: number; agent: Agent } {
    const t = this.target;
    return 'socketPath' in t ? { createConnection: () => connect(t.socketPath) } : { ...t, agent };
  }

  /** Sends a request and returns the raw response, whatever its status. */
  raw(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const isStream = typeof (opts.body as Readable | undefined)?.pipe === 'function';
    const isBuffer = Buffer.isBuffer(opts.body);
    const payload = opts.body === undefined || isStream ? undefined : isBuffer ? (opts.body as Buffer) : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = { ...opts.headers };
    if (payload) {
      headers['Content-Length'] = String(payload.length);
      headers['Content-Type'] ??= isBuffer ? 'application/octet-stream' : 'application/json';
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest({ ...this.connection(), method, path: `/v${clientApiVersion}${path}${encodeQuery(opts.query)}`, headers }, resolve);
      req.on('error', (e: NodeJS.ErrnoException) => {
        reject(['ECONNREFUSED', 'ENOENT', 'EACCES'].includes(e.code ?? '') ? new ConnectError(this.host, e) : e);
      });
      if (isStream) {
        // a failing body (a context file that vanished) must end the request, not leave it waiting for more
        (opts.body as Readable).once('error', (e) => req.destroy(e));
        (opts.body as Readable).pipe(req);
      } else req.end(payload);
    });
  }

  /** Sends a request; a status ≥ 400 becomes an ApiError carrying the daemon's message. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.raw(method, path, opts);
    if ((res.statusCode ?? 500) >= 400) {
      const text = await readAll(res);
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // plain-text error body
      }
      throw new ApiError(res.statusCode ?? 500, message);
    }
    return res;
  }

  /**
   * Opens a hijacked connection (`Connection: Upgrade`, as `attach` needs): resolves with the raw socket after
   * the daemon's 101 answer; an error answer becomes an ApiError.
   */
  hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Socket> {
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
      req.on('upgrade', (_res, socket) => resolve(socket as Socket));
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
      req.on('error', (e: NodeJS.ErrnoException) => reject(['ECONNREFUSED', 'ENOENT', 'EACCES'].includes(e.code ?? '') ? new ConnectError(this.host, e) : e));
      req.end(payload);
    });
  }

  /** Sends a request for its effect only: fails on an error status, discards the body. */
  async do(method: string, path: string, opts: RequestOptions = {}): Promise<void> {
    (await this.call(method, path, opts)).resume();
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const text = await readAll(await this.call(method, path, opts));
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Reads a JSON-lines stream (events, load/import progress), calling `onMessage` for each object. */
  async messages(res: IncomingMessage, onMessage: (m: Record<string, unknown>) => void): Promise<void> {
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
