import { InvalidArgument } from '../errors/index.js';

/** Docker's default detach sequence: ctrl-p, ctrl-q. */
const defaultDetachKeys = Buffer.from([16, 17]);

/** `ctrl-p,ctrl-q`, `a,b`, `ctrl-@`, `ctrl-[` …: dockerd's term.ToBytes. */
export function parseDetachKeys(spec: string | null | undefined): Buffer {
  if (!spec) return defaultDetachKeys;
  const bytes: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim();
    const ctrl = /^ctrl-(.)$/.exec(k);
    if (ctrl) {
      const c = (ctrl[1] as string).toLowerCase();
      if (c >= 'a' && c <= 'z') bytes.push(c.charCodeAt(0) - 96);
      else if ('@[\\]^_'.includes(c)) bytes.push('@[\\]^_'.indexOf(c) === 0 ? 0 : 26 + '@[\\]^_'.indexOf(c));
      else throw new InvalidArgument(`Invalid detach keys (${spec}) provided`);
    } else if (k.length === 1) bytes.push(k.charCodeAt(0));
    else throw new InvalidArgument(`Invalid detach keys (${spec}) provided`);
  }
  return Buffer.from(bytes);
}
