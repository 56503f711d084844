import { constants } from 'node:os';
import { InvalidArgument } from '../errors/index.js';

/** A signal given by name (`TERM`, `SIGTERM`, `sigterm`) or number, as docker accepts it; its number. */
export function signalNumber(signal: string): number {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = signal.toUpperCase().replace(/^SIG/, '');
    const n = (constants.signals as Record<string, number | undefined>)[`SIG${name}`];
    if (n !== undefined) return n;
    // Real-time signals: RTMIN+n / RTMAX-n, as runc accepts them.
    const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
    if (rt) return rt[1] === 'MIN' ? 34 + Number(rt[3] ?? 0) : 64 - Number(rt[3] ?? 0);
  }
  throw new InvalidArgument(`Invalid signal: ${signal}`);
}
