import { createHash } from 'node:crypto';
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

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Chain IDs identify a layer together with everything below it (image-spec config.md):
 * ChainID(L0) = DiffID(L0); ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? sha256(`${prev} ${d}`) : d);
  }
  return out;
}
