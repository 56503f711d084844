import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { InvalidArgument } from '../errors/index.js';
import type { CreateOptions, Services } from '../services/index.js';
import { Status } from './errors.js';
import { type Req, qBool, qFilters, readJsonBody, sendEmpty, sendJson } from './http.js';
import { validateBody } from './validate.js';
import type { Route } from './router.js';
import type { WebSocket } from 'ws';
import { frameLogBatch } from './stream.js';
import type { LogBatch } from '../services/index.js';
import { unixToRfc3339Nano } from '../util/timestamp.js';
import { type Session, drained, parseDetachKeys, pumpInput, responseSession } from './hijack.js';

const asList = (v: string[] | string | null | undefined) => (v == null ? undefined : Array.isArray(v) ? v : [v]);

export function containerRoutes(s: Services): Route[] {
  const c = s.containers;
  const id = (req: Req) => req.params[0] ?? '';
  return [
    ['GET', /^\/containers\/json$/, async (req, res) => {
      const limit = req.query.get('limit');
      sendJson(res, Status.OK, await c.summaries(qBool(req.query, 'all'), qFilters(req.query), limit ? Number(limit) : undefined, qBool(req.query, 'size')));
    }],
    ['POST', /^\/containers\/prune$/, async (req, res) => {
      const { removed, reclaimed } = await c.prune(qFilters(req.query));
      sendJson(res, Status.OK, { ContainersDeleted: removed.length ? removed : null, SpaceReclaimed: reclaimed });
    }],
    ['POST', /^\/containers\/([^/]+)\/rename$/, async (req, res) => {
      const name = req.query.get('name');
      if (!name) throw new InvalidArgument('Neither old nor new names may be empty');
      await c.rename(id(req), name);
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/containers\/([^/]+)\/resize$/, async (req, res) => {
      await c.resize(id(req), Number(req.query.get('h') ?? 0), Number(req.query.get('w') ?? 0));
      sendEmpty(res, Status.OK);
    }],
    ['POST', /^\/containers\/([^/]+)\/pause$/, async (req, res) => {
      await c.setPaused(id(req), true);
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/containers\/([^/]+)\/unpause$/, async (req, res) => {
      await c.setPaused(id(req), false);
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/containers\/create$/, async (req, res) => {
      const body = await validateBody('ContainerCreateRequest', await readJsonBody(req.raw));
      if (!body.Image) throw new InvalidArgument('config cannot be empty in order to create a container');
      const cmd = asList(body.Cmd);
      const entrypoint = asList(body.Entrypoint);
      const created = await c.create({
        image: body.Image,
        ...(req.query.get('name') && { name: req.query.get('name') as string }),
        ...(cmd && { cmd }),
        ...(entrypoint && { entrypoint }),
        ...(body.Env && { env: body.Env }),
        ...(body.WorkingDir && { workingDir: body.WorkingDir }),
        ...(body.User && { user: body.User }),
        ...(body.Hostname && { hostname: body.Hostname }),
        ...(body.Domainname && { domainname: body.Domainname }),
        ...(body.Labels && { labels: body.Labels }),
        ...(body.StopSignal && { stopSignal: body.StopSignal }),
        ...(typeof body.StopTimeout === 'number' && { stopTimeout: body.StopTimeout }),
        tty: !!body.Tty,
        openStdin: !!body.OpenStdin,
        stdinOnce: !!body.StdinOnce,
        attach: { stdin: !!body.AttachStdin, stdout: !!body.AttachStdout, stderr: !!body.AttachStderr },
        ...(body.Healthcheck && { healthcheck: body.Healthcheck }),
        ...(body.ExposedPorts && { exposedPorts: body.ExposedPorts }),
        ...(body.Volumes && { volumes: body.Volumes }),
        // The wire type has every field optional; the service fills defaults and checks what it needs.
        hostConfig: (body.HostConfig ?? null) as CreateOptions['hostConfig'],
        ...(body.NetworkingConfig?.EndpointsConfig && { endpointsConfig: body.NetworkingConfig.EndpointsConfig as CreateOptions['endpointsConfig'] }),
      });
      sendJson(res, Status.Created, { Id: created.container.id, Warnings: created.warnings });
    }],
    ['POST', /^\/containers\/([^/]+)\/update$/, async (req, res) => {
      const body = await validateBody('ContainerUpdateRequest', await readJsonBody(req.raw));
      sendJson(res, Status.OK, { Warnings: await c.update(id(req), body as Parameters<typeof c.update>[1]) });
    }],
    ['GET', /^\/containers\/([^/]+)\/json$/, async (req, res) => {
      sendJson(res, Status.OK, await c.inspect(id(req), { size: qBool(req.query, 'size'), execIds: (cid) => s.exec.idsOf(cid) }));
    }],
    ['POST', /^\/containers\/([^/]+)\/start$/, async (req, res) => {
      await c.start(id(req));
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/containers\/([^/]+)\/stop$/, async (req, res) => {
      const t = req.query.get('t');
      await c.stop(id(req), t === null || t === '' ? undefined : Number(t), req.query.get('signal') || undefined);
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/containers\/([^/]+)\/restart$/, async (req, res) => {
      const t = req.query.get('t');
      await c.restart(id(req), t === null || t === '' ? undefined : Number(t), req.query.get('signal') || undefined);
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/containers\/([^/]+)\/kill$/, async (req, res) => {
      await c.kill(id(req), req.query.get('signal') || 'KILL');
      sendEmpty(res, Status.NoContent);
    }],
    ['POST', /^\/containers\/([^/]+)\/wait$/, async (req, res) => {
      const condition = (req.query.get('condition') || 'not-running') as 'not-running' | 'next-exit' | 'removed';
      if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new InvalidArgument(`invalid condition: "${condition}"`);
      const target = c.resolve(id(req));
      // Headers go out at once (the docker CLI waits for them before starting the container).
      res.writeHead(Status.OK, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      const code = await c.wait(target.id, condition);
      res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
    }],
    ['DELETE', /^\/containers\/([^/]+)$/, async (req, res) => {
      await c.remove(id(req), qBool(req.query, 'force'), qBool(req.query, 'v'));
      sendEmpty(res, Status.NoContent);
    }],
    ['GET', /^\/containers\/([^/]+)\/logs$/, (req, res) => logs(s, req, res)],
    // Without an upgrade (dockerode's plain attach): the output in the response; input needs the upgrade.
    ['POST', /^\/containers\/([^/]+)\/attach$/, (req, res) => attach(s, id(req), req.query, responseSession(res))],
    ['GET', /^\/containers\/([^/]+)\/top$/, async (req, res) => sendJson(res, Status.OK, await c.top(id(req), req.query.get('ps_args') || undefined))],
    ['GET', /^\/containers\/([^/]+)\/export$/, async (req, res) => {
      const tar = await c.export(id(req));
      res.writeHead(Status.OK, { 'Content-Type': 'application/x-tar' });
      await pipeline(tar, res);
    }],
    ['GET', /^\/containers\/([^/]+)\/changes$/, async (req, res) => sendJson(res, Status.OK, await c.changes(id(req)))],
  ];
}

async function logs(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query;
  const stdout = qBool(q, 'stdout');
  const stderr = qBool(q, 'stderr');
  if (!stdout && !stderr) throw new InvalidArgument('You must choose at least one stream');
  const target = s.containers.resolve(req.params[0] ?? '');
  // As dockerd: a tail that is not a number (or "all") means everything.
  const tail = /^\d+$/.test(q.get('tail') ?? '') ? Number(q.get('tail')) : undefined;
  const since = unixTime(q, 'since');
  const until = unixTime(q, 'until');
  const ac = new AbortController();
  const batches = s.containers.logs(target.id, {
    follow: qBool(q, 'follow'),
    ...(tail !== undefined && { tail }),
    ...(since && { since }),
    ...(until && { until }),
    signal: ac.signal,
  });
  const raw = target.config.Tty;
  res.writeHead(Status.OK, { 'Content-Type': raw ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
  res.flushHeaders();
  res.on('close', () => ac.abort());
  const framing = { stdout, stderr, timestamps: qBool(q, 'timestamps'), details: qBool(q, 'details'), raw };
  for await (const batch of batches) {
    const out = frameLogBatch(batch, framing);
    if (out.length > 0 && !res.write(out)) await drained(res);
    if (ac.signal.aborted) break;
  }
  res.end();
}

/** The API's `since`/`until`: Unix seconds, with an optional fraction; 0 or absent is no bound. */
function unixTime(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  if (!v) return undefined;
  if (!/^\d+(\.\d{0,9})?$/.test(v)) throw new InvalidArgument(`invalid value for "${name}": ${v} is not a Unix timestamp`);
  return /^[0.]+$/.test(v) ? undefined : unixToRfc3339Nano(v);
}

/**
 * `GET /containers/{id}/attach/ws`: the same session over a WebSocket, as dockerd serves it to web clients. Output
 * goes as binary messages of the raw bytes (no stream frames, TTY or not); messages received are the stdin.
 */
export async function attachWebSocket(s: Services, containerId: string, query: URLSearchParams, ws: WebSocket): Promise<void> {
  const target = s.containers.resolve(containerId);
  const ac = new AbortController();
  ws.on('close', () => ac.abort());
  ws.on('error', () => ac.abort());
  const output = s.containers.attachOutput(target.id, { signal: ac.signal });
  if (qBool(query, 'stdin') && target.config.OpenStdin) {
    const stdin = s.containers.stdin(target.id);
    ws.on('message', (data: Buffer) => void stdin.write(data).catch(() => ac.abort()));
    ws.on('close', () => void stdin.end().catch(() => {}));
  }
  if (!qBool(query, 'stream')) {
    await output.return(undefined);
    ws.close();
    return;
  }
  const stdout = qBool(query, 'stdout');
  const stderr = qBool(query, 'stderr');
  for await (const batch of output) {
    const out = frameLogBatch(batch, { stdout, stderr, timestamps: false, raw: true });
    if (out.length > 0) await new Promise<void>((resolve) => ws.send(out, { binary: true }, () => resolve()));
    if (ac.signal.aborted) break;
  }
  ws.close();
}

/**
 * `POST /containers/{id}/attach`, hijacked (HTTP 101, then raw frames, or raw bytes for a TTY) as the docker CLI
 * uses it for `run` and `attach`, or as a plain response (output only). With `logs`, the container's log so far
 * comes first; with `stream`, output follows from where the log stood when the client attached, and input goes to
 * the container's stdin until the client half-closes, goes away or detaches.
 */
export async function attach(s: Services, containerId: string, query: URLSearchParams, session: Session): Promise<void> {
  const target = s.containers.resolve(containerId);
  const detachKeys = parseDetachKeys(query.get('detachKeys'));
  const logs = qBool(query, 'logs');
  const stream = qBool(query, 'stream');
  const framing = { stdout: qBool(query, 'stdout'), stderr: qBool(query, 'stderr'), timestamps: false, raw: target.config.Tty };
  const ac = new AbortController();
  const { out } = session;
  out.once('close', () => ac.abort());
  // The past log's read begins here (its first step fixes where it ends), just before the live output's start
  // is fixed below: together they cover the log once.
  const past = logs ? s.containers.logs(target.id) : undefined;
  const pastFirst = past?.next();
  pastFirst?.catch(() => {}); // surfaced where it is awaited
  try {
    // Fix where the output starts before answering: the client starts the container as soon as it sees the 101.
    const output = await s.containers.attachOutput(target.id, { signal: ac.signal });
    session.begin(target.config.Tty);
    const send = async (batch: LogBatch) => {
      const bytes = frameLogBatch(batch, framing);
      if (bytes.length > 0 && !out.destroyed && !out.write(bytes)) await drained(out);
    };
    if (past && pastFirst) {
      for (let r = await pastFirst; !r.done && !ac.signal.aborted; r = await past.next()) await send(r.value);
    }
    if (!stream) {
      await output.return(undefined);
      session.close();
      return;
    }
    if (session.input && qBool(query, 'stdin') && target.config.OpenStdin) {
      const stdin = s.containers.stdin(target.id);
      // As in dockerd, the detach sequence is looked for on TTYs only.
      pumpInput(session.input, session.first, target.config.Tty ? detachKeys : Buffer.alloc(0), { data: (b) => stdin.write(b), end: () => stdin.end(), detach: () => ac.abort() });
    }
    for await (const batch of output) {
      await send(batch);
      if (ac.signal.aborted) break;
    }
    session.close();
  } finally {
    await past?.return(undefined);
  }
}
