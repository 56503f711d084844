import type { ServerResponse } from 'node:http';
import { InvalidArgument } from '../errors/index.js';
import { BuildFailure, type BuildOptions, type Services } from '../services/index.js';
import { Status } from './errors.js';
import { type Req, qBool, readJsonBody, sendJson } from './http.js';
import { MessageStream } from './messages.js';
import { registryConfig } from './registry-auth.js';
import type { Route } from './router.js';

export function buildRoutes(s: Services): Route[] {
  return [
    ['POST', /^\/build$/, (req, res) => build(s, req, res)],
    ['POST', /^\/build\/prune$/, (req, res) => prune(s, req, res)],
    ['POST', /^\/berth\/build\/context$/, (req, res) => planContext(s, req, res)],
  ];
}

async function prune(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const all = qBool(req.query, 'all');
  const r = await s.images.pruneBuildCache({ all });
  const contexts = all ? await s.build.pruneContexts() : [];
  const deleted = [...(r.CachesDeleted ?? []), ...contexts];
  sendJson(res, Status.OK, { ...r, CachesDeleted: deleted.length ? deleted : null });
}

/** The largest context listing taken (some 200,000 entries of long names). */
const maxListing = 64 << 20;

/**
 * Berth's own: step 1 of a build with a kept context (builder/context-cache.ts). The body lists the client's
 * context, `{"Key": string, "Entries": [[name, stamp], …]}`; the answer names the session and the entries to send.
 */
async function planContext(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const body = await readJsonBody<{ Key?: unknown; Entries?: unknown }>(req.raw, maxListing);
  const entries = body?.Entries;
  if (typeof body?.Key !== 'string' || !Array.isArray(entries) || !entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')) {
    throw new InvalidArgument('a build context listing is {"Key": string, "Entries": [[name, stamp], ...]}');
  }
  const { id, need } = await s.build.planContext(body.Key, entries as Array<[string, string]>);
  sendJson(res, Status.OK, { ID: id, Need: need });
}

/**
 * `POST /build` (the classic builder): the body is the context, the answer Docker's JSON message stream. Errors
 * before the first message are plain HTTP errors (a Dockerfile that does not parse is a 400); after it, they are
 * the stream's last message, as dockerd does.
 */
async function build(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const o = buildOptions(req);
  const quiet = qBool(req.query, 'q');
  const out = new MessageStream(res);
  // With `q`, the output is held back and shown only if the build fails (as dockerd does).
  const held: Array<Record<string, unknown>> = [];
  try {
    const id = await s.build.build(req.raw, { ...o, signal: out.signal }, {
      stream: (text) => (quiet ? held.push({ stream: text }) : out.send({ stream: text })),
      aux: (ID) => out.send({ aux: { ID } }),
      message: (m) => (quiet ? held.push(m as Record<string, unknown>) : out.send(m)),
    });
    if (quiet) out.send({ stream: `${id}\n` });
  } catch (e) {
    for (const m of held) out.send(m);
    out.fail(e, e instanceof BuildFailure ? e.exitCode : undefined);
  } finally {
    out.end();
  }
}

function buildOptions(req: Req): Omit<BuildOptions, 'signal'> {
  const q = req.query;
  if (q.get('remote')) throw new InvalidArgument('berthd does not build from remote contexts: send the context as a tar');
  const buildArgs = new Map<string, string>();
  // A null value is an arg the client named without a value it could find: not given.
  for (const [k, v] of Object.entries(jsonParam<Record<string, string | null>>(q, 'buildargs', {}))) if (typeof v === 'string') buildArgs.set(k, v);
  const memory = Number(q.get('memory') ?? 0);
  if (!Number.isInteger(memory) || memory < 0) throw new InvalidArgument(`invalid memory value: ${q.get('memory')}`);
  const target = q.get('target');
  const networkMode = q.get('networkmode');
  const cpusetCpus = q.get('cpusetcpus');
  return {
    dockerfile: q.get('dockerfile') || 'Dockerfile',
    tags: q.getAll('t').filter(Boolean),
    buildArgs,
    ...(target && { target }),
    noCache: qBool(q, 'nocache'),
    pull: qBool(q, 'pull'),
    labels: jsonParam<Record<string, string>>(q, 'labels', {}),
    ...(networkMode && { networkMode }),
    // The API's default is to remove RUN containers; the docker CLI always says which.
    remove: q.has('rm') ? qBool(q, 'rm') : true,
    forceRemove: qBool(q, 'forcerm'),
    ...(cpusetCpus && { cpusetCpus }),
    ...(memory && { memory }),
    cacheFrom: jsonParam<string[]>(q, 'cachefrom', []),
    registryCredentials: registryConfig(req.raw.headers['x-registry-config']),
    ...(typeof req.raw.headers['x-berth-context'] === 'string' && { contextSession: req.raw.headers['x-berth-context'] }),
  };
}

function jsonParam<T>(q: URLSearchParams, name: string, fallback: T): T {
  const raw = q.get(name);
  if (!raw) return fallback;
  try {
    return (JSON.parse(raw) as T) ?? fallback;
  } catch {
    throw new InvalidArgument(`invalid ${name}: ${raw}`);
  }
}
