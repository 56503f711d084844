import type { ServerResponse } from 'node:http';
import type { Services } from '../services/index.js';
import { parseTimeFilter } from '../services/images/filters.js';
import type { EngineEvent } from '../services/system/events.js';
import { Status } from './errors.js';
import { type Req, qFilters, sendJson } from './http.js';
import type { Route } from './router.js';

export function systemRoutes(s: Services): Route[] {
  return [
    ['GET', /^\/_ping$/, (_req, res) => ping(res, false)],
    ['HEAD', /^\/_ping$/, (_req, res) => ping(res, true)],
    ['GET', /^\/version$/, (_req, res) => sendJson(res, Status.OK, s.system.version())],
    ['GET', /^\/info$/, (_req, res) => sendJson(res, Status.OK, s.system.info())],
    ['GET', /^\/system\/df$/, async (_req, res) => sendJson(res, Status.OK, await s.system.diskUsage())],
    ['GET', /^\/events$/, (req, res) => streamEvents(s, req, res)],
  ];
}

function ping(res: ServerResponse, head: boolean): void {
  res.writeHead(Status.OK, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    // The classic builder's API (POST /build): docker CLI 28 then builds without buildx.
    'Builder-Version': '1',
    'Content-Length': head ? 0 : 2,
  });
  res.end(head ? undefined : 'OK');
}

/** Seconds from a `since`/`until` value: unix seconds (with optional fraction), RFC 3339, or a Go duration ago. */
function eventTime(v: string | null): number | undefined {
  if (!v) return undefined;
  return parseTimeFilter(v) / 1000;
}

/**
 * `/events`: replays the buffered events in the window, then streams live ones as JSON lines until `until`
 * passes or the client goes away.
 */
function streamEvents(s: Services, req: Req, res: ServerResponse): void {
  const filters = qFilters(req.query);
  const since = eventTime(req.query.get('since'));
  const until = eventTime(req.query.get('until'));
  res.writeHead(Status.OK, { 'Content-Type': 'application/json' });
  res.flushHeaders();
  const write = (e: EngineEvent) => res.write(JSON.stringify(withLegacyFields(e)) + '\n');
  if (since !== undefined || until !== undefined) for (const e of s.events.replay(filters, since, until)) write(e);
  const nowSec = Date.now() / 1000;
  if (until !== undefined && until <= nowSec) {
    res.end();
    return;
  }
  const unsubscribe = s.events.subscribe(filters, write);
  const timer = until !== undefined ? setTimeout(() => res.end(), (until - nowSec) * 1000) : undefined;
  res.on('close', () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
  });
}

/** Old clients read `status`/`id`/`from` on container and image events; Docker still sends them. */
function withLegacyFields(e: EngineEvent): Record<string, unknown> {
  if (e.Type !== 'container' && e.Type !== 'image') return { ...e };
  return { status: e.Action, id: e.Actor.ID, ...(e.Actor.Attributes['image'] && { from: e.Actor.Attributes['image'] }), ...e };
}
