import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgument } from '../errors/index.js';

/** A decoded request as handlers see it. */
export interface Req {
  method: string;
  path: string;
  /** Path parameters captured by the route. */
  params: string[];
  query: URLSearchParams;
  /** Negotiated API version, e.g. 1.45. */
  version: number;
  raw: IncomingMessage;
}

export type Handler = (req: Req, res: ServerResponse) => Promise<void> | void;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** Docker's boolean query values: 1/true/True are true; absent, empty, 0 and false are false. */
export function qBool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '') return false;
  const l = v.toLowerCase();
  if (l === '1' || l === 'true') return true;
  if (l === '0' || l === 'false') return false;
  throw new InvalidArgument(`invalid boolean value for ${name}: ${v}`);
}

/**
 * The `filters` query parameter: JSON of `{"key": ["v", …]}`, or the older `{"key": {"v": true}}` that the docker
 * CLI still sends for some commands.
 */
export function qFilters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidArgument(`invalid filter: ${raw}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgument(`invalid filter: ${raw}`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (typeof v === 'object' && v !== null) out[k] = Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]);
    else throw new InvalidArgument(`invalid filter: ${raw}`);
  }
  return out;
}

/** The body as JSON (undefined when empty); a body over `limit` bytes is refused unread. */
export async function readJsonBody<T>(req: IncomingMessage, limit = Infinity): Promise<T | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new InvalidArgument(`request body too large: more than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new InvalidArgument('invalid JSON in request body');
  }
}
