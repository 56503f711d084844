import { Transform, type Readable } from 'node:stream';
import { FailedPrecondition, Forbidden, InvalidArgument, NotFound, Unavailable } from '../../errors/index.js';
import { type Descriptor, type Digest, type Index, type Manifest, MediaType, isDigest, isIndexMediaType, sha256 } from '../../oci/index.js';
import { type Challenge, type Credentials, authorize, basicAuthorization, parseChallenge } from './auth.js';
import type { Endpoint } from './endpoint.js';
import { type RequestOptions, type Response, readBody, registryError, request } from './http.js';
import { passOn, sha256Stream } from '../../util/hash-thread.js';

/** Every manifest kind Berth reads, as the Accept header of a manifest GET. */
export const manifestAccept = [MediaType.DockerManifest, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.OciIndex].join(', ');

export type FetchedManifest =
  | { kind: 'manifest'; digest: Digest; mediaType: string; bytes: Buffer; manifest: Manifest }
  | { kind: 'index'; digest: Digest; mediaType: string; bytes: Buffer; index: Index };

export interface ClientOptions {
  credentials?: Credentials;
  /** Authenticate for `pull,push` (uploads, upload.ts) rather than `pull` only. */
  push?: boolean;
  signal?: AbortSignal;
}

/**
 * A distribution-spec client for one repository of one registry: the `/v2/` ping (choosing HTTPS or, for
 * insecure registries, HTTP), the authentication its challenge asks for (Basic, or a bearer token for
 * `repository:<name>:pull`), manifests by tag or digest, and blobs as streams verified against their digest.
 */
export class RegistryClient {
  private base?: URL;
  private unverifiedTls = false;
  private authorization?: string;
  private pinged?: Promise<void>;
  private readonly creds: Credentials;
  private readonly scope: string;

  constructor(
    readonly endpoint: Endpoint,
    /** Repository path within the registry: `library/busybox`. */
    readonly repository: string,
    private readonly o: ClientOptions = {},
  ) {
    this.creds = o.credentials ?? {};
    this.scope = `repository:${repository}:${o.push ? 'pull,push' : 'pull'}`;
  }

  /** `GET /v2/`: finds the scheme that answers and authenticates as its challenge asks. */
  ping(): Promise<void> {
    this.pinged ??= this.doPing();
    return this.pinged;
  }

  private async doPing(): Promise<void> {
    const { host, insecure, scheme } = this.endpoint;
    const tryBase = async (base: URL, unverified: boolean) => {
      const res = await request(new URL('/v2/', base), { unverifiedTls: unverified, ...this.signal() });
      this.base = base;
      this.unverifiedTls = unverified;
      return res;
    };
    let res: Response;
    if (scheme === 'http') {
      res = await tryBase(new URL(`http://${host}`), false);
    } else if (insecure && !scheme) {
      // dockerd's order for insecure registries: TLS without verification, then plain HTTP.
      res = await tryBase(new URL(`https://${host}`), true).catch((e: unknown) => {
        if (isAbort(e)) throw e;
        return tryBase(new URL(`http://${host}`), false);
      });
    } else {
      // An https mirror on an insecure host goes without certificate checks, as dockerd's does.
      res = await tryBase(new URL(`https://${host}`), insecure);
    }
    res.body.resume();
    if (res.status === 401) {
      const ch = parseChallenge(res.headers['www-authenticate']);
      if (ch) this.authorization = await authorize(ch, this.scope, this.creds, this.o.signal);
      return;
    }
    if (res.status !== 200) throw new Unavailable(`Get "${new URL('/v2/', this.base).href}": ${this.endpoint.name} is not a registry (HTTP ${res.status})`);
    // Open registries still get credentials, as docker sends them when it has them.
    this.authorization = basicAuthorization(this.creds);
  }

  private signal(): Pick<RequestOptions, 'signal'> {
    return this.o.signal ? { signal: this.o.signal } : {};
  }

  /**
   * A request to the registry (a path or, for upload locations, a URL), answering one 401 challenge (a scope the
   * ping's token did not cover) and retrying, unless its body is a stream, which cannot be sent twice.
   */
  async send(path: string | URL, o: RequestOptions = {}): Promise<Response> {
    await this.ping();
    const url = new URL(path, this.base);
    const go = () => request(url, { ...o, ...this.signal(), unverifiedTls: this.unverifiedTls, ...(this.authorization && { authorization: this.authorization }) });
    let res = await go();
    if (res.status !== 401 || (typeof o.body === 'object' && !Buffer.isBuffer(o.body))) return res;
    const ch: Challenge | undefined = parseChallenge(res.headers['www-authenticate']);
    const sent = this.authorization;
    const next = ch ? await authorize(ch, this.scope, this.creds, this.o.signal) : undefined;
    if (ch?.scheme === 'basic' && !next) {
      res.body.resume();
      throw new Forbidden(`${verb(o)} "${url.href}": no basic auth credentials`);
    }
    if (!next || next === sent) throw new Forbidden(await registryError(res));
    res.body.resume();
    this.authorization = next;
    res = await go();
    if (res.status === 401) throw new Forbidden(await registryError(res));
    return res;
  }

  /**
   * A manifest or index by tag or digest. Its digest is computed from the bytes received; fetched by digest,
   * it must be that digest, and a registry's Docker-Content-Digest must agree with it.
   */
  async manifest(reference: string, display: string): Promise<FetchedManifest> {
    const res = await this.send(`/v2/${this.repository}/manifests/${reference}`, { headers: { Accept: manifestAccept } });
    if (res.status === 404) throw new NotFound(`manifest for ${display} not found: ${await registryError(res)}`);
    if (res.status === 403) throw new Forbidden(`pull access denied for ${display}: ${await registryError(res)}`);
    if (res.status !== 200) throw new Unavailable(`manifest for ${display}: ${await registryError(res)}`);
    const bytes = await readBody(res);
    const digest = sha256(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw new FailedPrecondition(`manifest verification failed for digest ${reference}: the registry sent ${digest}`);
    }
    const claimed = res.headers['docker-content-digest'];
    if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new FailedPrecondition(`manifest verification failed for ${display}: the registry says ${claimed}, its content is ${digest}`);
    }
    let parsed: { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
    try {
      parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed;
    } catch {
      throw new InvalidArgument(`manifest for ${display} is not JSON`);
    }
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0]?.trim();
    const mediaType = typeof parsed.mediaType === 'string' ? parsed.mediaType : contentType || MediaType.OciManifest;
    if (parsed.schemaVersion !== 2) {
      throw new InvalidArgument(`manifest for ${display} uses schema version ${String(parsed.schemaVersion)}, which Berth does not support (only schema 2 and OCI)`);
    }
    if (isIndexMediaType(mediaType) || (Array.isArray(parsed.manifests) && !parsed.config)) {
      if (!Array.isArray(parsed.manifests) || !parsed.manifests.every(isDescriptor)) throw new InvalidArgument(`invalid manifest list for ${display}`);
      return { kind: 'index', digest, mediaType, bytes, index: parsed as Index };
    }
    if (!isDescriptor(parsed.config) || !Array.isArray(parsed.layers) || !parsed.layers.every(isDescriptor)) {
      throw new InvalidArgument(`invalid manifest for ${display}`);
    }
    return { kind: 'manifest', digest, mediaType, bytes, manifest: parsed as Manifest };
  }

  /** A small blob (an image config) in memory, verified. */
  async blobBytes(desc: Descriptor, limit = 8 << 20): Promise<Buffer> {
    if (desc.size > limit) throw new InvalidArgument(`blob ${desc.digest} is ${desc.size} bytes, more than the ${limit} allowed here`);
    const chunks: Buffer[] = [];
    for await (const c of await this.blob(desc)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * A blob as a stream that fails (instead of ending) unless exactly `desc.size` bytes with digest `desc.digest`
   * came. `onBytes` sees the running count as the bytes arrive.
   */
  async blob(desc: Descriptor, onBytes?: (received: number) => void): Promise<Readable> {
    if (!isDigest(desc.digest)) throw new InvalidArgument(`unsupported digest ${String(desc.digest)}`);
    const res = await this.send(`/v2/${this.repository}/blobs/${desc.digest}`);
    if (res.status === 404) throw new NotFound(`blob ${desc.digest} not found: ${await registryError(res)}`);
    if (res.status !== 200) throw new Unavailable(`blob ${desc.digest}: ${await registryError(res)}`);
    const verify = verifier(desc, onBytes, res.url);
    res.body.on('error', (e) => verify.destroy(new Unavailable(`Get "${res.url.href}": ${e.message}`, { cause: e })));
    // A consumer that gives up (a failed sibling layer, a client gone) frees the connection too.
    verify.on('close', () => {
      if (!res.body.complete) res.body.destroy();
    });
    return res.body.pipe(verify);
  }

  /** Every tag of the repository (`tags/list`, following the Link header's pages). */
  async tags(display: string): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = `/v2/${this.repository}/tags/list`;
    for (let page = 0; next && page < 1000; page++) {
      const res = await this.send(next);
      if (res.status === 404) throw new NotFound(`repository ${display} not found: ${await registryError(res)}`);
      if (res.status !== 200) throw new Unavailable(`tags of ${display}: ${await registryError(res)}`);
      const body = JSON.parse((await readBody(res)).toString('utf8')) as { tags?: unknown };
      if (Array.isArray(body.tags)) out.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''))?.[1];
    }
    return out;
  }
}

function verb(o: RequestOptions): string {
  return o.method === 'HEAD' ? 'Head' : 'Get';
}

function isAbort(e: unknown): boolean {
  return (e as Error | undefined)?.name === 'AbortError';
}

function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor | undefined;
  return typeof x === 'object' && x !== null && typeof x.digest === 'string' && typeof x.size === 'number' && x.size >= 0;
}

/** Hashes and counts what passes; at the end the digest and size must be the descriptor's. */
function verifier(desc: Descriptor, onBytes: ((n: number) => void) | undefined, url: URL): Transform {
  const hash = sha256Stream('worker', desc.size);
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > desc.size) return cb(new FailedPrecondition(`filesystem layer verification failed for digest ${desc.digest}: more than ${desc.size} bytes`));
      onBytes?.(n);
      passOn(hash.update(chunk), chunk, cb);
    },
    flush(cb) {
      if (n !== desc.size) return cb(new Unavailable(`Get "${url.href}": the registry sent ${n} of ${desc.size} bytes`));
      hash.digest().then((hex) => {
        const got = `sha256:${hex}`;
        cb(got === desc.digest ? null : new FailedPrecondition(`filesystem layer verification failed for digest ${desc.digest}: content is ${got}`));
      }, cb);
    },
  });
}
