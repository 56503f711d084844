// /networks: list, inspect, create, remove, prune, and connecting containers.
import { InvalidArgument } from '../errors/index.js';
import type { Services } from '../services/index.js';
import { Status } from './errors.js';
import { type Req, qFilters, readJsonBody, sendEmpty, sendJson } from './http.js';
import type { Route } from './router.js';
import { validateBody } from './validate.js';

export function networkRoutes(s: Services): Route[] {
  const n = s.networks;
  const id = (req: Req) => req.params[0] as string;
  return [
    ['GET', /^\/networks$/, (req, res) => sendJson(res, Status.OK, n.list(qFilters(req.query)).map((r) => n.view(r, false)))],
    ['POST', /^\/networks\/create$/, async (req, res) => {
      const body = await validateBody('NetworkCreateRequest', await readJsonBody(req.raw));
      const { id: created, warning } = await n.create({
        Name: body.Name ?? '',
        ...(body.Driver && { Driver: body.Driver }),
        Internal: !!body.Internal,
        Attachable: !!body.Attachable,
        ...(body.IPAM && { IPAM: { ...(body.IPAM.Driver && { Driver: body.IPAM.Driver }), Config: (body.IPAM.Config ?? []).map((c) => ({ ...(c.Subnet && { Subnet: c.Subnet }), ...(c.Gateway && { Gateway: c.Gateway }), ...(c.IPRange && { IPRange: c.IPRange }) })) } }),
        ...(body.Options && { Options: body.Options }),
        ...(body.Labels && { Labels: body.Labels }),
      });
      sendJson(res, Status.Created, { Id: created, Warning: warning });
    }],
    ['POST', /^\/networks\/prune$/, async (req, res) => sendJson(res, Status.OK, { NetworksDeleted: await n.prune(qFilters(req.query)) })],
    ['GET', /^\/networks\/([^/]+)$/, (req, res) => sendJson(res, Status.OK, n.view(n.resolve(id(req)), true))],
    ['DELETE', /^\/networks\/([^/]+)$/, async (req, res) => {
      await n.remove(id(req));
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/networks\/([^/]+)\/connect$/, async (req, res) => {
      const body = await validateBody('NetworkConnectRequest', await readJsonBody(req.raw));
      if (!body.Container) throw new InvalidArgument('a container name or ID is required');
      const cfg = body.EndpointConfig ?? {};
      await s.containers.connect(body.Container, id(req), {
        ...(cfg.Aliases && { Aliases: cfg.Aliases }),
        ...(cfg.IPAMConfig?.IPv4Address && { IPAMConfig: { IPv4Address: cfg.IPAMConfig.IPv4Address } }),
        ...(cfg.Links && { Links: cfg.Links }),
        ...(cfg.MacAddress && { MacAddress: cfg.MacAddress }),
      });
      sendEmpty(res, Status.OK);
    }],
    ['POST', /^\/networks\/([^/]+)\/disconnect$/, async (req, res) => {
      const body = await validateBody('NetworkDisconnectRequest', await readJsonBody(req.raw));
      if (!body.Container) throw new InvalidArgument('a container name or ID is required');
      await s.containers.disconnect(body.Container, id(req));
      sendEmpty(res, Status.OK);
    }],
  ];
}
