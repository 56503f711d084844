import type { IncomingMessage } from 'node:http';
import { InvalidArgument, NotFound } from '../errors/index.js';
import type { Handler } from './http.js';

export type Route = [method: string, pattern: RegExp, handler: Handler];

export interface Match<H = Handler> {
  handler: H;
  params: string[];
  path: string;
  version: number;
}

const versionPrefix = /^\/v(\d+)\.(\d+)(\/.*)$/;

/** Parts of the Engine API Berth does not have yet: saying so beats dockerd's bare "page not found". */
const missingAreas: Array<[prefix: string, message: string]> = [];

/**
 * Strips and checks the `/vX.Y` prefix (optional, as in Docker), then finds the route. Path parameters are
 * URL-decoded; image names keep their slashes (`/images/localhost:5000/a/b/json`).
 */
export function matchRoute<H = Handler>(
  routes: Array<[method: string, pattern: RegExp, handler: H]>,
  req: IncomingMessage,
  versions: { min: number; max: number },
): Match<H> {
  const url = new URL(req.url ?? '/', 'http://berth');
  let path = url.pathname;
  let version = versions.max;
  const m = versionPrefix.exec(path);
  if (m) {
    version = Number(`${m[1]}.${m[2]}`);
    path = m[3] as string;
    if (version > versions.max) {
      throw new InvalidArgument(`client version ${m[1]}.${m[2]} is too new. Maximum supported API version is ${versions.max}`);
    }
    if (version < versions.min) {
      throw new InvalidArgument(`client version ${m[1]}.${m[2]} is too old. Minimum supported API version is ${versions.min}, please upgrade your client to a newer version`);
    }
  }
  let pathMatched = false;
  for (const [method, pattern, handler] of routes) {
    const pm = pattern.exec(path);
    if (!pm) continue;
    pathMatched = true;
    if (method !== req.method) continue;
    return { handler, params: pm.slice(1).map((p) => decodeURIComponent(p)), path, version };
  }
  if (pathMatched) throw new NotFound(`method ${req.method} not allowed for ${path}`);
  const missing = missingAreas.find(([prefix]) => path === prefix || path.startsWith(`${prefix}/`));
  throw new NotFound(missing ? missing[1] : 'page not found');
}
