import { InvalidArgument } from '../errors/index.js';

/** Go duration or timestamp, as `until=`/`since=` take them: "10m", "2h30m", RFC 3339, or unix seconds. */
export function parseTimeFilter(value: string, now = Date.now()): number {
  const dur = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(value);
  if (dur) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
    let ms = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * (unit[m[2] as string] ?? 0);
    return now - ms;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgument(`failed to parse value as time or duration: ${JSON.stringify(value)}`);
  return t;
}

/**
 * The current time in RFC3339 with a fixed 9-digit fraction (nanoseconds, from the high-resolution clock), so stored
 * times sort as strings and keep dockerd's precision; `rfc3339Nano` trims it for display.
 */
export function nowNano(): string {
  return nanoTime(BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)));
}

/** Nanoseconds since the epoch (a file's mtimeNs, say) in the same form as nowNano. */
export function nanoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
}

/** A UTC ISO time as Go's time.RFC3339Nano prints it: trailing zeros of the fraction dropped, all-zero ones too. */
export function rfc3339Nano(iso: string): string {
  return iso.replace(/\.(\d*?)0*Z$/, (_, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

/** Unix seconds (with an optional fraction, as the API's `since`/`until` give them) as RFC3339Nano UTC. */
export function unixToRfc3339Nano(value: string): string {
  const [sec = '0', frac = ''] = value.split('.');
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${frac.padEnd(9, '0').slice(0, 9)}Z`;
}

/** Go's zero time.Time in RFC 3339, as dockerd shows a time never set (a container never started, say). */
export const zeroTime = '0001-01-01T00:00:00Z';
