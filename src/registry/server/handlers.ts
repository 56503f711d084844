import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ContentStore } from '../../content/index.js';
import { FailedPrecondition } from '../../errors/index.js';
import { sendFileRange } from '../../util/send-file.js';
import { type Digest, MediaType, sha256 } from '../../oci/index.js';
import type { Logger } from '../../util/logger.js';
import { type Authenticator, type Grants, type Need, allowAll } from './auth.js';
import type { Action } from './config.js';
import { RegistryError, RegistryErrors } from './errors.js';
import type { GcGuard } from './gc.js';
import { acceptedTypes, defaultPlatformEntry, negotiate, parseManifest, subjectOf } from './manifests.js';
import { type ManifestReference, isTag, parseDigestParam, parseReference, validateName } from './names.js';
import type { RegistryStorage } from './storage.js';
import type { ChunkRange, UploadState, UploadStore } from './uploads.js';

export interface RegistryContext {
  content: ContentStore;
  storage: RegistryStorage;
  uploads: UploadStore;
  log: Logger;
  /** Absent: no auth, everyone may do everything. */
  auth?: Authenticator;
  guard: GcGuard;
}

/** Clients must be able to push manifests of at least 4 MB (spec); anything larger is refused with 413. */
const maxManifestBytes = 4 * 1024 * 1024;
/** `_catalog` pages when the client gives no `n` (distribution's default page is 100; ours is larger). */
const defaultCatalogPage = 1000;

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, params: string[], grants: Grants) => Promise<void>;

/** What a route needs: nothing beyond a known caller (`/v2/`), the catalog, or an action on the named repository. */
type Guarded = 'base' | 'catalog' | 'repo';

/** The action a repository request needs: reads pull, writes push, deleting content delete (distribution's mapping). */
function actionFor(method: string, path: string): Action {
  if (method === 'GET' || method === 'HEAD') return /\/blobs\/uploads\//.test(path) ? 'push' : 'pull';
  if (method === 'DELETE' && !/\/blobs\/uploads\//.test(path)) return 'delete';
  return 'push';
}

/**
 * The distribution API's routes. `<name>` may contain slashes, so each route is a regex anchored on the fixed
 * part after it; upload sessions come before blobs (`…/blobs/uploads/` would otherwise read as a blob digest).
 */
export function createHandler(ctx: RegistryContext): (req: IncomingMessage, res: ServerResponse) => void {
  const h = handlers(ctx);
  const routes: [RegExp, Partial<Record<string, Handler>>, Guarded][] = [
    [/^\/v2\/?$/, { GET: h.base, HEAD: h.base }, 'base'],
    [/^\/v2\/_catalog$/, { GET: h.catalog }, 'catalog'],
    [/^\/v2\/(.+)\/blobs\/uploads\/?$/, { POST: h.startUpload }, 'repo'],
    [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, { GET: h.uploadStatus, PATCH: h.uploadChunk, PUT: h.finishUpload, DELETE: h.cancelUpload }, 'repo'],
    [/^\/v2\/(.+)\/blobs\/([^/]+)$/, { GET: h.getBlob, HEAD: h.getBlob, DELETE: h.deleteBlob }, 'repo'],
    [/^\/v2\/(.+)\/manifests\/([^/]+)$/, { GET: h.getManifest, HEAD: h.getManifest, PUT: h.putManifest, DELETE: h.deleteManifest }, 'repo'],
    [/^\/v2\/(.+)\/tags\/list$/, { GET: h.tagsList }, 'repo'],
    [/^\/v2\/(.+)\/referrers\/([^/]+)$/, { GET: h.referrers }, 'repo'],
  ];

  /** Who the caller is and whether the route allows them; throws the 401/403 the scheme answers with. */
  const authorize = async (req: IncomingMessage, url: URL, guarded: Guarded, params: string[]): Promise<Grants> => {
    if (!ctx.auth) return allowAll;
    let needs: Need[] = [];
    if (guarded === 'catalog') needs = [{ type: 'registry', name: 'catalog', actions: ['*'] }];
    else if (guarded === 'repo') {
      const name = validateName(params[0] ?? '');
      const action = actionFor(req.method ?? '', url.pathname);
      // Challenges ask for pull along with push, as distribution's do: clients push only what they can read back.
      // A push needs push; the challenge asks for pull along with it, as distribution's does (clients push
      // what they also read back, and docker asks for both anyway).
      needs = [{ type: 'repository', name, actions: [action], ...(action === 'push' ? { ask: ['pull', 'push'] } : {}) }];
    }
    return ctx.auth.authorize(req, needs);
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://registry');
    if (url.pathname === '/token' && ctx.auth?.tokenEnabled && (req.method === 'GET' || req.method === 'HEAD')) {
      await ctx.auth.serveToken(req, res, url);
      return;
    }
    for (const [re, methods, guarded] of routes) {
      const m = re.exec(url.pathname);
      if (!m) continue;
      const fn = methods[req.method ?? ''];
      if (!fn) throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on ${url.pathname}`);
      let params: string[];
      try {
        params = m.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        throw new RegistryError('NAME_INVALID', 'malformed percent-encoding in path');
      }
      const grants = await authorize(req, url, guarded, params);
      await fn(req, res, url, params, grants);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  };

  return (req, res) => {
    // Streams are consumed (and their errors awaited) where they are read; these listeners only keep an error
    // emitted after that (a client resetting the connection late) from becoming an uncaught exception.
    req.on('error', () => {});
    res.on('error', () => {});
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const started = Date.now();
    route(req, res)
      .catch((e: unknown) => sendError(req, res, e, ctx.log))
      .finally(() => ctx.log.debug('request', { method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started }));
  };
}

function sendError(req: IncomingMessage, res: ServerResponse, e: unknown, log: Logger): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (e instanceof RegistryError || e instanceof RegistryErrors) {
    const body = e.body();
    const extra = e instanceof RegistryError ? e.headers : {};
    res.writeHead(e.status, { ...extra, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
    return;
  }
  // The client went away mid-body: nobody is left to answer.
  if (req.destroyed || isDisconnect(e)) {
    res.destroy();
    return;
  }
  log.error('request failed', { method: req.method, url: req.url, error: e instanceof Error ? e : String(e) });
  const body = new RegistryError('UNKNOWN', e instanceof Error ? e.message : String(e)).body();
  res.writeHead(500, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}

function isDisconnect(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE';
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooBig = () => new RegistryError('SIZE_INVALID', `body larger than ${limit} bytes`, { limit }, 413);
  if (Number(req.headers['content-length'] ?? '0') > limit) throw tooBig();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    total += c.length;
    if (total > limit) throw tooBig();
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** `Content-Range` of a chunk: the spec's `<start>-<end>`, also in the `bytes a-b/total` form some clients send. */
function parseChunkRange(header: string | undefined): ChunkRange | undefined {
  if (!header) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw new RegistryError('BLOB_UPLOAD_INVALID', `invalid Content-Range ${JSON.stringify(header)}`);
  const range = { start: Number(m[1]), end: Number(m[2]) };
  if (range.end < range.start) throw new RegistryError('BLOB_UPLOAD_INVALID', `invalid Content-Range ${JSON.stringify(header)}`, undefined, 416);
  return range;
}

/** A GET's `Range: bytes=…`, one range only (RFC 9110 lets a server ignore multiple ranges and send it all). */
function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return undefined; // syntactically invalid: ignored, as RFC 9110 says
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function pageSize(url: URL): number | undefined {
  const n = url.searchParams.get('n');
  if (n === null || n === '') return undefined;
  if (!/^\d+$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n });
  return Number(n);
}

/** One page of a sorted list after `last`, and the Link to the next page when one is cut off. */
function paginate(all: string[], url: URL, path: string): { items: string[]; link?: string } {
  const n = pageSize(url);
  const last = url.searchParams.get('last');
  const after = last ? all.filter((x) => x > last) : all;
  if (n === undefined || after.length <= n) return { items: after };
  const items = after.slice(0, n);
  const tail = items[items.length - 1];
  if (n === 0 || tail === undefined) return { items: [] };
  return { items, link: `<${path}?last=${encodeURIComponent(tail)}&n=${n}>; rel="next"` };
}

function uploadHeaders(s: { id: string; name: string; offset: number }): Record<string, string> {
  return {
    Location: `/v2/${s.name}/blobs/uploads/${s.id}`,
    // The last byte held; distribution answers 0-0 for an empty session too, and clients expect that.
    Range: `0-${Math.max(0, s.offset - 1)}`,
    'Docker-Upload-UUID': s.id,
  };
}

function handlers(ctx: RegistryContext) {
  const { content, storage, uploads, guard } = ctx;

  /** Streams a request body straight into the content store, verified against `digest`. */
  const ingestBody = async (req: IncomingMessage, digest: Digest) => {
    await guard.protect(digest);
    try {
      return await content.ingest(req, { digest });
    } catch (e) {
      if (e instanceof FailedPrecondition) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest });
      throw e;
    }
  };

  const blobCreated = (res: ServerResponse, name: string, digest: Digest) => {
    res.writeHead(201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 }).end();
  };

  const with416 = async <T>(s: UploadState, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof RegistryError && e.status === 416) Object.assign(e.headers, uploadHeaders(s));
      throw e;
    }
  };

  const requireRepo = async (name: string) => {
    if (!(await storage.repoExists(name))) throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
  };

  return {
    base: async (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 }).end('{}');
    },

    catalog: async (_req: IncomingMessage, res: ServerResponse, url: URL) => {
      if (!url.searchParams.has('n')) url.searchParams.set('n', String(defaultCatalogPage));
      const page = paginate(await storage.catalog(), url, '/v2/_catalog');
      const body = JSON.stringify({ repositories: page.items });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...(page.link ? { Link: page.link } : {}) }).end(body);
    },

    getBlob: async (req: IncomingMessage, res: ServerResponse, _url: URL, [rawName = '', rawDigest = '']: string[]) => {
      const name = validateName(rawName);
      const digest = parseDigestParam(rawDigest);
      const size = await storage.blobSize(name, digest);
      if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
      const headers: Record<string, string | number> = {
        'Content-Type': 'application/octet-stream',
        'Docker-Content-Digest': digest,
        ETag: `"${digest}"`,
        'Accept-Ranges': 'bytes',
        // Content-addressed: the bytes behind this URL never change.
        'Cache-Control': 'max-age=31536000',
      };
      if (req.headers['if-none-match'] === `"${digest}"`) {
        res.writeHead(304, headers).end();
        return;
      }
      const range = parseByteRange(req.headers.range, size);
      if (range === 'unsatisfiable') {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 }).end();
        return;
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      res.writeHead(range ? 206 : 200, { ...headers, 'Content-Length': end - start + 1 });
      if (req.method === 'HEAD' || size === 0) {
        res.end();
        return;
      }
      await sendFileRange(content.path(digest), start, end, res);
      res.end();
    },

    deleteBlob: async (_req: IncomingMessage, res: ServerResponse, _url: URL, [rawName = '', rawDigest = '']: string[]) => {
      const name = validateName(rawName);
      const digest = parseDigestParam(rawDigest);
      if (!(await storage.unlinkBlob(name, digest))) throw new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
      res.writeHead(202, { 'Docker-Content-Digest': digest, 'Content-Length': 0 }).end();
    },

    startUpload: async (req: IncomingMessage, res: ServerResponse, url: URL, [rawName = '']: string[], grants: Grants) => {
      const name = validateName(rawName);
      const q = url.searchParams;
      if (q.has('mount')) {
        const digest = parseDigestParam(q.get('mount'));
        const from = q.get('from');
        // A mount that cannot be done (no such blob there, no `from`) falls back to an ordinary session (202),
        // as the spec asks; the client then uploads.
        // Mounting reads the source: without pull there, the caller gets a session instead, learning nothing.
        const source = from ? validateName(from) : undefined;
        if (source && grants.can(source, 'pull')) {
          await guard.protect(digest);
          if ((await storage.blobSize(source, digest)) !== undefined) {
            req.resume();
            await storage.linkBlob(name, digest);
            blobCreated(res, name, digest);
            return;
          }
        }
      } else if (q.has('digest')) {
        const digest = parseDigestParam(q.get('digest'));
        await ingestBody(req, digest);
        await storage.linkBlob(name, digest);
        blobCreated(res, name, digest);
        return;
      }
      req.resume();
      const s = await uploads.create(name);
      res.writeHead(202, { ...uploadHeaders(s), 'Content-Length': 0 }).end();
    },

    uploadStatus: async (_req: IncomingMessage, res: ServerResponse, _url: URL, [rawName = '', id = '']: string[]) => {
      const s = await uploads.get(validateName(rawName), id);
      res.writeHead(204, uploadHeaders(s)).end();
    },

    uploadChunk: async (req: IncomingMessage, res: ServerResponse, _url: URL, [rawName = '', id = '']: string[]) => {
      const name = validateName(rawName);
      const range = parseChunkRange(req.headers['content-range']);
      await uploads.locked(name, id, async (s) => {
        const offset = await with416(s, () => uploads.append(s, req, range));
        res.writeHead(202, { ...uploadHeaders({ ...s, offset }), 'Content-Length': 0 }).end();
      });
    },

    finishUpload: async (req: IncomingMessage, res: ServerResponse, url: URL, [rawName = '', id = '']: string[]) => {
      const name = validateName(rawName);
      const digest = parseDigestParam(url.searchParams.get('digest'));
      const range = parseChunkRange(req.headers['content-range']);
      await uploads.locked(name, id, async (s) => {
        if (hasBody(req) && s.offset === 0 && !range) {
          // The whole blob in the closing PUT: straight into the content store, no copy through the session.
          try {
            await ingestBody(req, digest);
          } catch (e) {
            if (e instanceof RegistryError) await uploads.remove(s.id);
            throw e;
          }
          await uploads.remove(s.id);
        } else {
          if (hasBody(req)) s.offset = await with416(s, () => uploads.append(s, req, range));
          await guard.protect(digest);
          await uploads.commit(s, digest);
        }
        await storage.linkBlob(name, digest);
        blobCreated(res, name, digest);
      });
    },

    cancelUpload: async (_req: IncomingMessage, res: ServerResponse, _url: URL, [rawName = '', id = '']: string[]) => {
      await uploads.locked(validateName(rawName), id, async (s) => {
        await uploads.remove(s.id);
        res.writeHead(204).end();
      });
    },

    getManifest: async (req: IncomingMessage, res: ServerResponse, _url: URL, [rawName = '', rawRef = '']: string[]) => {
      const name = validateName(rawName);
      let ref: ManifestReference;
      try {
        ref = parseReference(rawRef);
      } catch {
        throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { Tag: rawRef });
      }
      // An unknown repository is MANIFEST_UNKNOWN here, as distribution answers (both are 404s).
      let m = await storage.getManifest(name, ref);
      const accepted = acceptedTypes(req.headers.accept);
      const neg = negotiate(m.mediaType, accepted);
      if (!neg.serve) {
        const child = neg.platformChild ? defaultPlatformEntry(m.body) : undefined;
        if (!child || !accepted.includes(child.mediaType)) {
          throw new RegistryError('MANIFEST_UNKNOWN', `manifest of type ${m.mediaType} found, but the Accept header does not allow it`, { mediaType: m.mediaType, accept: accepted });
        }
        m = await storage.getManifest(name, { digest: child.digest });
      }
      const headers = { 'Content-Type': m.mediaType, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"`, 'Content-Length': m.body.length };
      if (req.headers['if-none-match'] === `"${m.digest}"`) {
        res.writeHead(304, headers).end();
        return;
      }
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : m.body);
    },

    putManifest: async (req: IncomingMessage, res: ServerResponse, url: URL, [rawName = '', rawRef = '']: string[]) => {
      const name = validateName(rawName);
      let ref: ManifestReference;
      try {
        ref = parseReference(rawRef);
      } catch (e) {
        if (e instanceof RegistryError && e.code === 'DIGEST_INVALID') throw e;
        throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', `invalid tag ${JSON.stringify(rawRef)}`);
      }
      const body = await readBody(req, maxManifestBytes);
      const digest = sha256(body);
      if (ref.digest && ref.digest !== digest) {
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: ref.digest, actual: digest });
      }
      const parsed = parseManifest(body, req.headers['content-type']);
      // Before the references are checked: a collection running now must not take them away after the check.
      await guard.protect(digest, ...parsed.blobs, ...parsed.manifests, parsed.subject);
      const missing: RegistryError[] = [];
      for (const d of new Set(parsed.blobs)) {
        if ((await storage.blobSize(name, d)) === undefined) missing.push(new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', d));
      }
      for (const d of new Set(parsed.manifests)) {
        if (!(await storage.revision(name, d))) missing.push(new RegistryError('MANIFEST_BLOB_UNKNOWN', 'manifest unknown to registry', d));
      }
      if (missing.length) throw new RegistryErrors(missing);
      const extraTags = ref.digest ? url.searchParams.getAll('tag') : [];
      for (const t of extraTags) if (!isTag(t)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', `invalid tag ${JSON.stringify(t)}`);
      const tags = ref.tag !== undefined ? [ref.tag] : [...new Set(extraTags)];
      await storage.putManifest(name, {
        digest,
        mediaType: parsed.mediaType,
        body,
        tags,
        ...(parsed.subject && parsed.referrerOf ? { subject: parsed.subject, referrer: parsed.referrerOf(digest, body.length) } : {}),
      });
      const headers: Record<string, string | number> = { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 };
      if (parsed.subject) headers['OCI-Subject'] = parsed.subject;
      if (extraTags.length) headers['OCI-Tag'] = tags.join(', ');
      res.writeHead(201, headers).end();
    },

    deleteManifest: async (_req: IncomingMessage, res: ServerResponse, _url: URL, [rawName = '', rawRef = '']: string[]) => {
      const name = validateName(rawName);
      const ref = parseReference(rawRef);
      await requireRepo(name);
      if (ref.tag !== undefined) {
        if (!(await storage.deleteTag(name, ref.tag))) throw new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { Tag: ref.tag });
      } else {
        const m = await storage.getManifest(name, ref);
        await storage.deleteManifest(name, ref.digest, subjectOf(m.body));
      }
      res.writeHead(202, { 'Content-Length': 0 }).end();
    },

    tagsList: async (_req: IncomingMessage, res: ServerResponse, url: URL, [rawName = '']: string[]) => {
      const name = validateName(rawName);
      await requireRepo(name);
      const page = paginate(await storage.tags(name), url, `/v2/${name}/tags/list`);
      const body = JSON.stringify({ name, tags: page.items });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...(page.link ? { Link: page.link } : {}) }).end(body);
    },

    referrers: async (_req: IncomingMessage, res: ServerResponse, url: URL, [rawName = '', rawDigest = '']: string[]) => {
      const name = validateName(rawName);
      const digest = parseDigestParam(rawDigest);
      let list = await storage.referrers(name, digest);
      const artifactType = url.searchParams.get('artifactType');
      const headers: Record<string, string | number> = { 'Content-Type': MediaType.OciIndex };
      if (artifactType) {
        list = list.filter((d) => (d as { artifactType?: string }).artifactType === artifactType);
        headers['OCI-Filters-Applied'] = 'artifactType';
      }
      // Never a 404 (that would send clients to the tag-schema fallback): no referrers is an empty index.
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: list });
      res.writeHead(200, { ...headers, 'Content-Length': Buffer.byteLength(body) }).end(body);
    },
  };
}
