import { type Digest, isDigest } from '../../oci/index.js';
import { RegistryError } from './errors.js';

// The spec's grammar for `<name>` (path components joined by `/`) and for tags.
const component = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const nameRe = new RegExp(`^${component}(?:/${component})*$`);
const tagRe = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// Digests of any algorithm, as the image-spec grammar has them: told apart from tags, then refused unless sha256.
const anyDigestRe = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Clients limit host/port + `/` + name to 255 characters; longer names could never be pulled back. */
const maxNameLength = 255;

export function validateName(name: string): string {
  if (name.length > maxNameLength || !nameRe.test(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { name });
  }
  return name;
}

export function isTag(s: string): boolean {
  return tagRe.test(s);
}

/** A digest from the request (path or query); only sha256 is stored, so anything else is DIGEST_INVALID. */
export function parseDigestParam(s: string | null | undefined): Digest {
  if (!s || !isDigest(s)) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: s ?? null });
  return s;
}

export type ManifestReference = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

/** `<tag-or-digest>`: anything that looks like a digest is taken as one (and must then be a valid sha256 digest). */
export function parseReference(ref: string): ManifestReference {
  if (anyDigestRe.test(ref) && ref.includes(':')) return { digest: parseDigestParam(ref) };
  if (!isTag(ref)) throw new RegistryError('MANIFEST_INVALID', 'invalid tag', { tag: ref }, 400);
  return { tag: ref };
}

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export function isUploadId(s: string): boolean {
  return uuidRe.test(s);
}
