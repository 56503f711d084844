// /volumes: list, inspect, create, remove, prune.
import type { Services } from '../services/index.js';
import { Status } from './errors.js';
import { type Req, qBool, qFilters, readJsonBody, sendEmpty, sendJson } from './http.js';
import type { Route } from './router.js';
import { validateBody } from './validate.js';

export function volumeRoutes(s: Services): Route[] {
  const v = s.volumes;
  const name = (req: Req) => req.params[0] as string;
  return [
    ['GET', /^\/volumes$/, (req, res) => sendJson(res, Status.OK, { Volumes: v.list(qFilters(req.query)).map((r) => v.view(r)), Warnings: null })],
    ['POST', /^\/volumes\/create$/, async (req, res) => {
      const body = await validateBody('VolumeCreateRequest', await readJsonBody(req.raw));
      const created = await v.create({
        ...(body.Name && { name: body.Name }),
        ...(body.Driver && { driver: body.Driver }),
        ...(body.DriverOpts && { options: body.DriverOpts }),
        ...(body.Labels && { labels: body.Labels }),
      });
      sendJson(res, Status.Created, v.view(created));
    }],
    ['POST', /^\/volumes\/prune$/, async (req, res) => sendJson(res, Status.OK, await v.prune(qFilters(req.query)))],
    ['GET', /^\/volumes\/([^/]+)$/, (req, res) => sendJson(res, Status.OK, v.view(v.get(name(req))))],
    ['DELETE', /^\/volumes\/([^/]+)$/, async (req, res) => {
      await v.remove(name(req), qBool(req.query, 'force'));
      sendEmpty(res, Status.NoContent);
    }],
  ];
}
