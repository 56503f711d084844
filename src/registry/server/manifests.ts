import { type Descriptor, type Digest, MediaType, isDigest } from '../../oci/index.js';
import { RegistryError } from './errors.js';

/** Manifest media types this registry stores (schema 1 is long deprecated; distribution 2.8 refuses it too). */
export const manifestTypes: ReadonlySet<string> = new Set([MediaType.DockerManifest, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.OciIndex]);
const indexTypes: ReadonlySet<string> = new Set([MediaType.DockerManifestList, MediaType.OciIndex]);
const schema1Types: ReadonlySet<string> = new Set(['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws']);

/** Layers that live elsewhere (`urls`): a registry never holds them, so a manifest may name them unpushed. */
const foreignLayerTypes: ReadonlySet<string> = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** A descriptor with the fields this registry reads beyond src/oci's (image-spec descriptor.md). */
export type RegistryDescriptor = Descriptor & { urls?: string[]; artifactType?: string };

export interface ParsedManifest {
  mediaType: string;
  /** Blobs the repository must hold (config and layers). */
  blobs: Digest[];
  /** Manifests the repository must hold (an index's entries). */
  manifests: Digest[];
  subject?: Digest;
  /** How this manifest appears in its subject's referrers list. */
  referrerOf?: (digest: Digest, size: number) => RegistryDescriptor;
}

function invalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', 'manifest invalid', message);
}

function stripParams(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function descriptors(value: unknown, field: string): RegistryDescriptor[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${field} must be an array`);
  return value.map((d, i) => descriptor(d, `${field}[${i}]`));
}

function descriptor(value: unknown, field: string): RegistryDescriptor {
  const d = value as Partial<RegistryDescriptor> | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw invalid(`${field} must be a descriptor`);
  if (typeof d.mediaType !== 'string') throw invalid(`${field}.mediaType must be a string`);
  if (!isDigest(d.digest)) throw invalid(`${field}.digest ${JSON.stringify(d.digest)} is not a sha256 digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${field}.size must be a non-negative integer`);
  return d as RegistryDescriptor;
}

/**
 * Checks a pushed manifest (the body, and the Content-Type it came with) and says what it references. The media
 * type is the Content-Type's, else the body's `mediaType`, else guessed from the shape (an OCI manifest may omit
 * both). A body whose `mediaType` contradicts the Content-Type is refused: a client reading it back would.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  const declared = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  let ct = stripParams(contentType);
  if (ct === '' || ct === 'application/json' || ct === 'application/octet-stream') ct = '';
  if (schema1Types.has(ct) || (declared && schema1Types.has(declared)) || doc['schemaVersion'] === 1) {
    throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', 'schema 1 manifests are not supported');
  }
  if (ct && declared && ct !== declared) throw invalid(`mediaType ${declared} does not match Content-Type ${ct}`);
  const mediaType = ct || declared || ('manifests' in doc ? MediaType.OciIndex : MediaType.OciManifest);
  if (!manifestTypes.has(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`);
  if (doc['schemaVersion'] !== 2) throw invalid('schemaVersion must be 2');

  const subject = doc['subject'] === undefined ? undefined : descriptor(doc['subject'], 'subject');
  const annotations = doc['annotations'] as Record<string, string> | undefined;
  const artifactType = typeof doc['artifactType'] === 'string' && doc['artifactType'] ? doc['artifactType'] : undefined;

  if (indexTypes.has(mediaType)) {
    const entries = descriptors(doc['manifests'], 'manifests');
    return {
      mediaType,
      blobs: [],
      manifests: entries.map((e) => e.digest),
      subject: subject?.digest,
      referrerOf: (digest, size) => ({ mediaType, digest, size, ...(artifactType ? { artifactType } : {}), ...(annotations ? { annotations } : {}) }),
    };
  }
  const config = descriptor(doc['config'], 'config');
  const layers = descriptors(doc['layers'], 'layers');
  const blobs = [config.digest, ...layers.filter((l) => !(foreignLayerTypes.has(l.mediaType) && Array.isArray(l.urls) && l.urls.length > 0)).map((l) => l.digest)];
  return {
    mediaType,
    blobs,
    manifests: [],
    subject: subject?.digest,
    // An image manifest without artifactType is listed under its config's media type (the spec's rule).
    referrerOf: (digest, size) => ({ mediaType, digest, size, artifactType: artifactType ?? config.mediaType, ...(annotations ? { annotations } : {}) }),
  };
}

/** The subject a stored manifest names, if any (for cleaning its referrer entry when it is deleted). */
export function subjectOf(body: Buffer): Digest | undefined {
  try {
    const d = (JSON.parse(body.toString('utf8')) as { subject?: { digest?: unknown } }).subject?.digest;
    return isDigest(d) ? d : undefined;
  } catch {
    return undefined;
  }
}

/** The media types an `Accept` header lists (parameters and q-values dropped; order kept). */
export function acceptedTypes(accept: string | string[] | undefined): string[] {
  const raw = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  return raw
    .split(',')
    .map((t) => stripParams(t))
    .filter((t) => t !== '');
}

export type Negotiated = { serve: true } | { serve: false; platformChild?: true };

/**
 * Whether a stored manifest of `mediaType` may be served to a client that sent `accept`. No Accept (or a
 * wildcard) takes whatever is stored: this registry has no schema 1 to convert to. A client that lists types and
 * not this one cannot read it: for an index, distribution then serves the linux/amd64 entry if the client
 * accepts that one's type (old clients pulling a multi-arch tag); otherwise MANIFEST_UNKNOWN.
 */
export function negotiate(mediaType: string, accepted: string[]): Negotiated {
  if (accepted.length === 0 || accepted.includes('*/*') || accepted.includes(mediaType)) return { serve: true };
  // Accepting only application/json is what clients predating content negotiation send.
  if (accepted.every((t) => t === 'application/json')) return { serve: true };
  return indexTypes.has(mediaType) ? { serve: false, platformChild: true } : { serve: false };
}

/** The linux/amd64 entry of an index (distribution's fallback for clients that do not accept indexes). */
export function defaultPlatformEntry(body: Buffer): Descriptor | undefined {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { manifests?: Descriptor[] };
    return doc.manifests?.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64' && isDigest(m.digest));
  } catch {
    return undefined;
  }
}
