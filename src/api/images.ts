import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgument, Unavailable } from '../errors/index.js';
import { isDigest, parseReference } from '../oci/index.js';
import { type Services, importImage, loadImages, saveImages } from '../services/index.js';
import { Status } from './errors.js';
import { type Req, qBool, qFilters, sendJson } from './http.js';
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
  if (!fromSrc) {
    // A bad reference is the client's error whatever the registry's state (dockerd parses it before pulling).
    const fromImage = q.get('fromImage') ?? '';
    const tag = q.get('tag');
    if (fromImage) parseReference(tag ? `${fromImage}${isDigest(tag) ? '@' : ':'}${tag}` : fromImage);
    // Pulling needs the registry client, which has not landed yet; say so rather than pretend.
    throw new Unavailable(`pull access for ${q.get('fromImage') ?? '?'} is not available: berthd has no registry client yet`);
  }
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
