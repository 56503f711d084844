import type { ServerResponse } from 'node:http';
import type { Services } from '../services/index.js';
import { type StatsJSON, containerStats } from '../services/containers/stats.js';
import { Status } from './errors.js';
import { type Req, qBool } from './http.js';
import type { Route } from './router.js';

/** `GET /containers/{id}/stats`: one JSON frame, or (`stream`, the default) one per line each second. */
export function statsRoutes(s: Services): Route[] {
  return [['GET', /^\/containers\/([^/]+)\/stats$/, (req, res) => stats(s, req, res)]];
}

async function stats(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const stream = req.query.has('stream') ? qBool(req.query, 'stream') : true;
  const oneShot = qBool(req.query, 'one-shot');
  // A client that goes away ends the sampling (and its timer) at once.
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  const frames = containerStats(s.containers, req.params[0] ?? '', { stream, oneShot, signal: ac.signal });
  res.writeHead(Status.OK, { 'Content-Type': 'application/json' });
  if (stream) res.flushHeaders();
  for await (const f of frames) {
    if (ac.signal.aborted) break;
    if (!res.write(line(f))) await drained(res, ac.signal);
  }
  res.end();
}

function line(f: StatsJSON): string {
  return JSON.stringify(f) + '\n';
}

/** Resolves when the client has read what was written, or is gone. */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
