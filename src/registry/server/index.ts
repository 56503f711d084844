import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { join } from 'node:path';
import { openContentStore } from '../../content/index.js';
import { isDigest } from '../../oci/index.js';

export interface RegistryOptions {
  addr: string;
  root: string;
}

/**
 * berth-registry, first slice: the distribution API's base endpoint (`GET /v2/`) and blob reads
 * (`GET`/`HEAD /v2/<name>/blobs/<digest>`) from a content store under its own root. Uploads, manifests, tags,
 * auth and GC come with the registry issue; until then those routes answer the spec's UNSUPPORTED error.
 */
export async function startRegistry(opts: RegistryOptions): Promise<void> {
  const content = await openContentStore(join(opts.root, 'content'));
  const [host, port] = opts.addr.includes(':') ? [opts.addr.slice(0, opts.addr.lastIndexOf(':')), opts.addr.slice(opts.addr.lastIndexOf(':') + 1)] : ['127.0.0.1', opts.addr];
  const error = (code: string, message: string) => JSON.stringify({ errors: [{ code, message, detail: null }] });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const path = new URL(req.url ?? '/', 'http://registry').pathname;
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      return;
    }
    const blob = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
    if (blob && (req.method === 'GET' || req.method === 'HEAD')) {
      const digest = blob[2] ?? '';
      const info = isDigest(digest) ? await content.info(digest) : undefined;
      if (!isDigest(digest) || !info) {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(error('BLOB_UNKNOWN', 'blob unknown to registry'));
        return;
      }
      res.writeHead(200, { 'Content-Length': info.size, 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream' });
      if (req.method === 'HEAD') res.end();
      else content.open(digest).pipe(res);
      return;
    }
    res.writeHead(405, { 'Content-Type': 'application/json' }).end(error('UNSUPPORTED', 'the operation is unsupported'));
  };
  // A request that fails (a blob unreadable, a client gone) ends alone: the server goes on.
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'Content-Type': 'application/json' }).end(error('UNKNOWN', e instanceof Error ? e.message : String(e)));
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(port), host, () => resolve()));
  process.stderr.write(`berth-registry listening on ${host}:${port}\n`);
}
