import { InvalidArgument } from '../errors/index.js';
import { type Digest, isDigest } from './digest.js';

/**
 * Image references parsed and normalised as Docker does (distribution/reference grammar):
 * `busybox` → `docker.io/library/busybox:latest`; `host:5000/a/b:tag@sha256:…`.
 */
export interface Reference {
  /** Registry host, with port: `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path within the registry: `library/busybox`. */
  path: string;
  tag?: string;
  digest?: Digest;
}

const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainRe = new RegExp(`^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const pathRe = new RegExp(`^${component}(?:/${component})*$`);
const tagRe = /^[\w][\w.-]{0,127}$/;
const anyDigestRe = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$/;

export const DefaultDomain = 'docker.io';
export const DefaultTag = 'latest';

function invalid(msg = 'invalid reference format'): never {
  throw new InvalidArgument(msg);
}

/** Parses a user-supplied reference. Adds no default tag: see `withDefaultTag`. */
export function parseReference(input: string): Reference {
  if (input === '' || input.length > 512) invalid();
  if (/^[a-f0-9]{64}$/.test(input)) {
    invalid(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  // As moby, an upper-case repository name is refused as such before the rest is parsed (`Bad:Ref:x` too).
  const upper = upperCaseRemote(input);
  if (upper) invalid(`invalid reference format: repository name (${upper}) must be lowercase`);
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!anyDigestRe.test(d)) invalid();
    if (!isDigest(d)) invalid(`invalid reference format: unsupported digest algorithm or length`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    if (!tagRe.test(tag)) invalid();
    rest = rest.slice(0, lastColon);
  }
  let domain = DefaultDomain;
  let path = rest;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = first;
    path = rest.slice(slash + 1);
    if (!domainRe.test(domain)) invalid();
  }
  if (domain === 'index.docker.io') domain = DefaultDomain;
  if (path !== path.toLowerCase() && pathRe.test(path.toLowerCase())) {
    const remote = domain === DefaultDomain && !path.includes('/') ? `library/${path}` : path;
    invalid(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  if (!pathRe.test(path)) invalid();
  if (domain === DefaultDomain && !path.includes('/')) path = `library/${path}`;
  if (domain.length + 1 + path.length > 255) invalid('invalid reference format: repository name must not be more than 255 characters');
  return { domain, path, ...(tag !== undefined && { tag }), ...(digest && { digest }) };
}

/** The repository name up to the first colon (moby's split of domain and remote), when it has upper case. */
function upperCaseRemote(input: string): string | undefined {
  const slash = input.indexOf('/');
  const first = input.slice(0, slash);
  const hasDomain = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  let remainder = hasDomain ? input.slice(slash + 1) : input;
  if (!hasDomain && !remainder.includes('/')) remainder = `library/${remainder}`;
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  return remote !== remote.toLowerCase() ? remote : undefined;
}

export function withDefaultTag(ref: Reference): Reference {
  return ref.tag || ref.digest ? ref : { ...ref, tag: DefaultTag };
}

/** `docker.io/library/busybox` */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The fully qualified form: `docker.io/library/busybox:latest`. */
export function formatReference(ref: Reference): string {
  return repositoryName(ref) + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** Docker's familiar form, as `docker images` shows it: `busybox`, `myuser/app`, `localhost:5000/app`. */
export function familiarName(repo: string): string {
  if (repo.startsWith(`${DefaultDomain}/library/`)) return repo.slice(`${DefaultDomain}/library/`.length);
  if (repo.startsWith(`${DefaultDomain}/`)) return repo.slice(DefaultDomain.length + 1);
  return repo;
}

/** `busybox:latest` for `docker.io/library/busybox:latest`. */
export function familiarString(ref: Reference): string {
  return familiarName(repositoryName(ref)) + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}
