// Apart from digest.ts so that what only parses references and digests (the CLI) does not load node:crypto.
import { createHash } from 'node:crypto';
import type { Digest } from './digest.js';

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
