/**
 * Human-readable sizes and durations exactly as the docker CLI prints them (its go-units v0.5.0 functions),
 * and the size parser its flags use (`--memory 512m`, `--shm-size 1g`).
 */
import { formatFloat } from './gofmt.js';

const decimalAbbrs = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const binaryAbbrs = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

export const KB = 1000;
export const MB = 1000 * KB;
export const GB = 1000 * MB;
export const TB = 1000 * GB;
export const PB = 1000 * TB;
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;
export const PiB = 1024 * TiB;

function sizeAndUnit(size: number, base: number, abbrs: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < abbrs.length - 1) {
    size /= base;
    i++;
  }
  return [size, abbrs[i]!];
}

/** Go's `%.<precision>g`. */
function gFormat(x: number, precision: number): string {
  return formatFloat(x, 'g', precision);
}

/**
 * Decimal size with `precision` significant digits (go-units HumanSizeWithPrecision). Docker prints image,
 * container and build-cache sizes with 3 (the default here): 4261228 → "4.26MB", 0 → "0B", 1000 → "1kB",
 * 999500 → "1e+03kB" (Go's %g, faithfully).
 */
export function humanSize(bytes: number, precision = 3): string {
  const [size, unit] = sizeAndUnit(bytes, 1000, decimalAbbrs);
  return gFormat(size, precision) + unit;
}

/** go-units HumanSize: 4 significant digits, as docker uses for `system df`, volume sizes and "Total reclaimed space". */
export function humanSize4(bytes: number): string {
  return humanSize(bytes, 4);
}

/** Binary size with 4 significant digits (go-units BytesSize), as `docker stats` and `docker info` print memory: "1.5MiB". */
export function bytesSize(bytes: number): string {
  const [size, unit] = sizeAndUnit(bytes, 1024, binaryAbbrs);
  return gFormat(size, 4) + unit;
}

export { humanDuration } from '../../util/duration.js';
import { humanDuration } from '../../util/duration.js';

/** "<humanDuration(now - date)> ago", as docker shows CreatedSince / RunningFor. */
export function timeAgo(date: Date | number | string, now: Date | number = Date.now()): string {
  const then = date instanceof Date ? date.getTime() : typeof date === 'string' ? Date.parse(date) : date;
  const n = now instanceof Date ? now.getTime() : now;
  return `${humanDuration(n - then)} ago`;
}

export { SizeError, parseBytes, parseHumanSize } from '../../util/size.js';

/** Go's time.Time.String(): `2024-01-02 15:04:05 +0000 UTC`. */
export function goTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000 UTC`;
}
