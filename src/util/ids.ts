import { randomBytes } from 'node:crypto';

/** A 64-hex-character random ID, the shape Docker uses for containers and exec instances. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** Docker's 12-character short form of an ID or digest hex. */
export function shortId(id: string): string {
  const hex = id.startsWith('sha256:') ? id.slice(7) : id;
  return hex.slice(0, 12);
}
