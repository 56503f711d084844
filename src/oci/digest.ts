import { InvalidArgument } from '../errors/index.js';

/** `sha256:<64 lowercase hex>`; the only algorithm Berth stores. */
export type Digest = `sha256:${string}`;

const digestRe = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && digestRe.test(s);
}

/** Validates a digest from untrusted input; blob paths are only ever built from a value that passed this. */
export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw new InvalidArgument(`invalid digest: ${JSON.stringify(s)}`);
  return s;
}

export function digestHex(d: Digest): string {
  return d.slice(7);
}
