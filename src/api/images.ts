import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgument } from '../errors/index.js';
import { isDigest, parseReference } from '../oci/index.js';
import { type Services, importImage, loadImages, saveImages } from '../services/index.js';
import { Status } from './errors.js';
import { type Req, qBool, qFilters, readJsonBody, sendJson } from './http.js';
import { MessageStream } from './messages.js';
import { registryAuth } from './registry-auth.js';
import type { Route } from './router.js';

export function imageRoutes(s: Services): Route[] {
  const img = s.images;
  return [
    ['GET', /^\/images\/json$/, (req, res) => listImages(s, req, res)],
    ['POST', /^\/images\/load$/, (req, res) => load(s, req, res)],
    ['GET', /^\/images\/get$/, (req, res) => save(s, req.query.getAll('names'), res)],
    ['POST', /^\/images\/create$/, (req, res) => create(s, req, res)],
    ['POST', /^\/images\/prune$/, async (req, res) => {
      const filters = qFilters(req.query);
      const dangling = filters['dangling']?.[0];
      const all = dangling === 'false' || dangling === '0';
      sendJson(res, Status.OK, await img.prune({ all, filters }));
    }],
    ['GET', /^\/images\/(.+)\/json$/, async (req, res) => sendJson(res, Status.OK, versioned(req, await img.inspect(req.params[0] ?? '')))],
    ['GET', /^\/images\/(.+)\/history$/, async (req, res) => sendJson(res, Status.OK, await img.history(req.params[0] ?? ''))],
    ['GET', /^\/images\/(.+)\/get$/, (req, res) => save(s, [req.params[0] ?? ''], res)],
    ['POST', /^\/images\/(.+)\/push$/, (req, res) => push(s, req, res)],
    ['POST', /^\/auth$/, (req, res) => login(s, req, res)],
    ['POST', /^\/images\/(.+)\/tag$/, async (req, res) => {
      const repo = req.query.get('repo');
      if (!repo) throw new InvalidArgument('repository name must have at least one component');
      await img.tag(req.params[0] ?? '', repo, req.query.get('tag') || undefined);
      res.writeHead(Status.Created);
      res.end();
    }],
    ['DELETE', /^\/images\/(.+)$/, async (req, res) => {
      const opts = { force: qBool(req.query, 'force'), noprune: qBool(req.query, 'noprune') };
      sendJson(res, Status.OK, await img.remove(req.params[0] ?? '', opts));
    }],
  ];
}

/** API 1.44 dropped VirtualSize; older clients still get it. */
function versioned<T extends { VirtualSize?: number }>(req: Req, body: T): T {
  if (req.version >= 1.44) delete body.VirtualSize;
  return body;
}

function listImages(s: Services, req: Req, res: ServerResponse): void {
  const list = s.images.list({ all: qBool(req.query, 'all'), filters: qFilters(req.query) });
  sendJson(res, Status.OK, list.map((i) => versioned(req, i)));
}

/** Progress messages as Docker's JSON message stream. */
function sendMessages(res: ServerResponse, messages: Array<Record<string, unknown>>): void {
  res.writeHead(Status.OK, { 'Content-Type': 'application/json' });
  res.end(messages.map((m) => JSON.stringify(m) + '\n').join(''));
}

async function load(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const messages = await loadImages(s.images, req.raw);
  sendMessages(res, messages.map((m) => ({ stream: m + '\n' })));
}

async function save(s: Services, names: string[], res: ServerResponse): Promise<void> {
  if (names.length === 0) throw new InvalidArgument('no image names given');
  const tar = await saveImages(s.images, names);
  res.writeHead(Status.OK, { 'Content-Type': 'application/x-tar' });
  await pipeline(tar, res);
}

async function create(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query;
  const fromSrc = q.get('fromSrc');
  if (!fromSrc) return pull(s, req, res);
  let input: Readable = req.raw;
  if (fromSrc !== '-') {
    let url: URL;
    try {
      url = new URL(fromSrc);
    } catch {
      throw new InvalidArgument(`invalid import source: ${fromSrc}`);
    }
    const resp = await fetch(url).catch((e: unknown) => {
      throw new InvalidArgument(`cannot fetch ${fromSrc}: ${(e as Error).message}`);
    });
    if (!resp.ok || !resp.body) throw new InvalidArgument(`cannot fetch ${fromSrc}: HTTP ${resp.status}`);
    input = Readable.fromWeb(resp.body as import('node:stream/web').ReadableStream);
  }
  const id = await importImage(s.images, input, {
    repo: q.get('repo') || undefined,
    tag: q.get('tag') || undefined,
    message: q.get('message') || undefined,
    changes: q.getAll('changes'),
    source: fromSrc,
  });
  sendMessages(res, [{ status: id }]);
}

/**
 * `POST /images/create?fromImage=…` (docker pull): docker's JSON progress stream. A bad reference is a 400 before
 * any network; failures before the first message (manifest unknown, registry unreachable, unauthorized) are
 * plain HTTP errors, later ones the stream's last message, as dockerd does. No `tag` on a name without one
 * pulls every tag (the API's documented meaning, which `docker pull -a` uses).
 */
async function pull(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const q = req.query;
  const fromImage = q.get('fromImage') ?? '';
  const tag = q.get('tag') ?? '';
  const ref = tag ? `${fromImage}${isDigest(tag) ? '@' : ':'}${tag}` : fromImage;
  const parsed = parseReference(ref);
  const allTags = !parsed.tag && !parsed.digest;
  const out = new MessageStream(res);
  try {
    const credentials = registryAuth(req.raw.headers['x-registry-auth']);
    await s.pull.pull(ref, {
      allTags,
      signal: out.signal,
      ...(q.get('platform') && { platform: q.get('platform') as string }),
      ...(credentials && { credentials }),
    }, (m) => out.send(m));
  } catch (e) {
    out.fail(e);
  } finally {
    out.end();
  }
}

/**
 * `POST /images/{name}/push?tag=` (docker push): docker's JSON progress stream, one digest line and aux message
 * per tag pushed (every tag of the repository when none is given). Like dockerd, a request without
 * X-Registry-Auth must carry the AuthConfig as its body. A bad name is a 400; everything after it, local checks
 * included, is reported in the stream.
 */
async function push(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const name = req.params[0] ?? '';
  const header = req.raw.headers['x-registry-auth'];
  let credentials = registryAuth(header);
  if (!header) {
    const text = await readText(req);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new InvalidArgument(`Bad parameters and missing X-Registry-Auth: ${text.trim() ? (e as Error).message : 'EOF'}`);
    }
    credentials = registryAuth(Buffer.from(JSON.stringify(body ?? {})).toString('base64url'));
  }
  parseReference(name);
  const out = new MessageStream(res);
  try {
    await s.push.push(name, req.query.get('tag') || undefined, { signal: out.signal, ...(credentials && { credentials }) }, (m) => out.send(m));
  } catch (e) {
    out.fail(e);
  } finally {
    out.end();
  }
}

async function readText(req: Req): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req.raw) {
    n += (c as Buffer).length;
    if (n > 1 << 20) throw new InvalidArgument('Bad parameters and missing X-Registry-Auth: body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `POST /auth` (docker login's check): the credentials tried at the registry; a refusal is dockerd's 401. */
async function login(s: Services, req: Req, res: ServerResponse): Promise<void> {
  const body = await readJsonBody<Record<string, unknown>>(req.raw);
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw new InvalidArgument('invalid auth configuration: not a JSON object');
  const str = (k: string) => (typeof body?.[k] === 'string' ? (body[k] as string) : undefined);
  const result = await s.push.login({
    ...(str('username') !== undefined && { username: str('username') }),
    ...(str('password') !== undefined && { password: str('password') }),
    ...(str('serveraddress') !== undefined && { serverAddress: str('serveraddress') }),
    ...(str('identitytoken') !== undefined && { identityToken: str('identitytoken') }),
  });
  sendJson(res, Status.OK, result);
}

