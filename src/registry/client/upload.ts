import { passOn, sha256Stream } from '../../util/hash-thread.js';
import { Transform, type Readable } from 'node:stream';
import { FailedPrecondition, Forbidden, InvalidArgument, Unavailable } from '../../errors/index.js';
import { type Digest, isDigest } from '../../oci/index.js';
import type { RegistryClient } from './client.js';
import { type Response, registryError } from './http.js';

/**
 * The push side of the distribution protocol, over a RegistryClient made with `push: true`: blob existence
 * (`HEAD`), cross-repository mounts, uploads (POST, then the body streamed in one PATCH and the digest given by
 * the closing PUT, so that a blob whose digest is only known once it has been sent needs no second pass), and
 * manifest PUTs.
 */

/** Whether the repository has the blob (`HEAD /v2/<name>/blobs/<digest>`). */
export async function hasBlob(client: RegistryClient, digest: Digest): Promise<boolean> {
  const res = await client.send(`/v2/${client.repository}/blobs/${digest}`, { method: 'HEAD' });
  res.body.resume();
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw failure(res, `Head blob ${digest}`);
}

/**
 * Asks the registry to mount `digest` from another repository of it. Returns true when mounted; otherwise the
 * registry has started an ordinary upload, which is cancelled (the caller uploads afresh).
 */
export async function mountBlob(client: RegistryClient, digest: Digest, from: string): Promise<boolean> {
  const q = new URLSearchParams({ mount: digest, from });
  const res = await client.send(`/v2/${client.repository}/blobs/uploads/?${q}`, { method: 'POST' });
  res.body.resume();
  if (res.status === 201) return true;
  if (res.status === 202) {
    const loc = location(client, res);
    // Not worth failing the push for: an abandoned upload is reclaimed by the registry in any case.
    await client.send(loc, { method: 'DELETE' }).then((r) => r.body.resume(), () => undefined);
  }
  return false;
}

/** A whole blob in memory (an image config): POST, then PUT with the digest. */
export async function uploadBytes(client: RegistryClient, data: Buffer, digest: Digest): Promise<void> {
  const start = await startUpload(client);
  const url = withDigest(start, digest);
  const res = await client.send(url, { method: 'PUT', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  await expectCreated(res, digest);
}

/**
 * Uploads a stream whose digest is computed on the way: POST, one chunked PATCH with the whole body, PUT with the
 * digest. `onBytes` sees the running count of bytes sent. Returns the blob's descriptor digest and size.
 */
export async function uploadStream(client: RegistryClient, source: Readable, onBytes?: (sent: number) => void): Promise<{ digest: Digest; size: number }> {
  const start = await startUpload(client);
  const hash = sha256Stream();
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      onBytes?.(size);
      passOn(hash.update(chunk), chunk, cb);
    },
  });
  source.once('error', (e) => counter.destroy(e));
  source.pipe(counter);
  let res: Response;
  try {
    res = await client.send(start, { method: 'PATCH', body: counter, headers: { 'Content-Type': 'application/octet-stream' } });
  } finally {
    // The request may have failed before reading all of it: free the source (a content store file).
    if (!counter.writableFinished) source.destroy();
  }
  if (res.status !== 202 && res.status !== 204) throw failure(res, 'blob upload');
  res.body.resume();
  if (!counter.readableEnded) throw new Unavailable(`Patch "${start.href}": the registry answered before the blob was sent`);
  const digest = `sha256:${await hash.digest()}` as Digest;
  const next = res.headers.location ? location(client, res) : start;
  const put = await client.send(withDigest(next, digest), { method: 'PUT' });
  await expectCreated(put, digest);
  return { digest, size };
}

/** `PUT /v2/<name>/manifests/<tag>`; returns the digest the registry computed (checked against ours). */
export async function putManifest(client: RegistryClient, tag: string, mediaType: string, bytes: Buffer, digest: Digest): Promise<void> {
  const res = await client.send(`/v2/${client.repository}/manifests/${tag}`, { method: 'PUT', body: bytes, headers: { 'Content-Type': mediaType } });
  if (res.status !== 201 && res.status !== 200) throw failure(res, `manifest ${tag}`, await registryError(res));
  res.body.resume();
  const said = res.headers['docker-content-digest'];
  if (typeof said === 'string' && isDigest(said) && said !== digest) {
    throw new FailedPrecondition(`the registry stored the manifest for ${tag} as ${said}, its content is ${digest}`);
  }
}

async function startUpload(client: RegistryClient): Promise<URL> {
  const res = await client.send(`/v2/${client.repository}/blobs/uploads/`, { method: 'POST' });
  if (res.status !== 202) throw failure(res, 'blob upload', await registryError(res));
  res.body.resume();
  return location(client, res);
}

async function expectCreated(res: Response, digest: Digest): Promise<void> {
  if (res.status !== 201 && res.status !== 204) throw failure(res, `blob ${digest}`, await registryError(res));
  res.body.resume();
  const said = res.headers['docker-content-digest'];
  if (typeof said === 'string' && isDigest(said) && said !== digest) {
    throw new FailedPrecondition(`the registry stored blob ${digest} as ${said}`);
  }
}

/** An upload's Location, relative to the URL that answered. */
function location(client: RegistryClient, res: Response): URL {
  const loc = res.headers.location;
  if (!loc) throw new Unavailable(`${res.url.href}: the registry gave no upload location`);
  try {
    return new URL(loc, res.url);
  } catch {
    throw new InvalidArgument(`${client.endpoint.name} gave an unusable upload location: ${JSON.stringify(loc)}`);
  }
}

function withDigest(url: URL, digest: Digest): URL {
  const u = new URL(url);
  u.searchParams.set('digest', digest);
  return u;
}

/** A registry's refusal: access denied is Forbidden (dockerd's "denied: …"), the rest Unavailable. */
function failure(res: Response, what: string, text?: string): Error {
  const message = text ?? `received unexpected HTTP status: ${res.status}`;
  if (res.status === 401 || res.status === 403) return new Forbidden(message);
  return new Unavailable(`${what}: ${message}`);
}
