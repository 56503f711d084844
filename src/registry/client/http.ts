import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { Unavailable } from '../../errors/index.js';

/** Kept-alive connections: a pull makes a dozen requests to one host, and a TLS handshake each would dominate. */
const agents = {
  http: new http.Agent({ keepAlive: true }),
  https: new https.Agent({ keepAlive: true }),
  /** For insecure registries: TLS without certificate checks (dockerd's behaviour for them). */
  httpsUnverified: new https.Agent({ keepAlive: true, rejectUnauthorized: false }),
};

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL that answered (after redirects). */
  url: URL;
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** Sent only to the host of the first URL: a redirect to blob storage elsewhere must not carry it. */
  authorization?: string;
  /** A stream is sent chunked and cannot be replayed: its redirects are not followed. */
  body?: string | Buffer | Readable;
  signal?: AbortSignal;
  unverifiedTls?: boolean;
}

/** No byte for this long on a connection: the registry is gone or stuck. */
const idleTimeoutMs = 60_000;
const maxRedirects = 5;

/**
 * One HTTP request, following redirects (blob GETs are often redirected to storage). Transport failures become
 * Unavailable naming the URL, as dockerd's `Get "https://…": dial tcp …` does.
 */
export async function request(url: URL, o: RequestOptions = {}): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const auth: Record<string, string> = o.authorization && current.host === url.host ? { Authorization: o.authorization } : {};
    const res = await once(current, { ...o, headers: { ...o.headers, ...auth } });
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location && hop < maxRedirects && !isStream(o.body)) {
      res.body.resume();
      current = new URL(location, current);
      continue;
    }
    return { ...res, url: current };
  }
}

function once(url: URL, o: RequestOptions): Promise<Omit<Response, 'url'>> {
  const secure = url.protocol === 'https:';
  const agent = secure ? (o.unverifiedTls ? agents.httpsUnverified : agents.https) : agents.http;
  const method = o.method ?? 'GET';
  const what = `${method[0]}${method.slice(1).toLowerCase()} "${url.href}"`;
  const body = o.body;
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method,
      agent,
      headers: { 'User-Agent': 'berth', ...o.headers, ...(body !== undefined && !isStream(body) && { 'Content-Length': Buffer.byteLength(body) }) },
      ...(o.signal && { signal: o.signal }),
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no answer within ${idleTimeoutMs / 1000}s`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') reject(e);
      else reject(new Unavailable(`${what}: ${e.message}`, { cause: e }));
    });
    req.on('response', (res) => {
      // A stalled body (registry stopped mid-blob) fails the stream instead of hanging the pull.
      res.setTimeout(idleTimeoutMs, () => res.destroy(new Error(`${what}: no data for ${idleTimeoutMs / 1000}s`)));
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    if (!isStream(body)) {
      req.end(body);
      return;
    }
    // A failing source (a content store read error) fails the request instead of sending a short body.
    body.once('error', (e) => req.destroy(e));
    body.pipe(req);
  });
}

function isStream(b: RequestOptions['body']): b is Readable {
  return typeof b === 'object' && !Buffer.isBuffer(b);
}

/** Reads a whole (small) body; more than `limit` bytes is refused. */
export async function readBody(res: Response, limit = 4 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw new Unavailable(`${res.url.href}: response larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A registry's error answer as distribution prints it: `manifest unknown: manifest unknown`. */
export async function registryError(res: Response): Promise<string> {
  const text = res.body.readableEnded ? '' : (await readBody(res, 64 << 10).catch(() => Buffer.alloc(0))).toString('utf8');
  try {
    const errs = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors;
    if (Array.isArray(errs) && errs.length) {
      return errs.map((e) => `${String(e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`).join(', ');
    }
  } catch {
    // not distribution's JSON
  }
  return `received unexpected HTTP status: ${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim();
}
