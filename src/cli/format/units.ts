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

/** Error from parsing a size; the message is go-units' ("invalid size: '…'", "invalid suffix: '…'"). */
export class SizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SizeError';
  }
}

const goFloatRe = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

function parseSize(sizeStr: string, base: number): number {
  let sep = -1;
  for (let i = sizeStr.length - 1; i >= 0; i--) {
    if ('01234567890. '.includes(sizeStr[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new SizeError(`invalid size: '${sizeStr}'`);
  let num: string;
  let sfx: string;
  if (sizeStr[sep] !== ' ') {
    num = sizeStr.slice(0, sep + 1);
    sfx = sizeStr.slice(sep + 1);
  } else {
    num = sizeStr.slice(0, sep);
    sfx = sizeStr.slice(sep + 1);
  }
  // Go's ParseFloat allows underscores between digits
  const plain = /(^|[^0-9])_|_($|[^0-9])/.test(num) ? num : num.replace(/_/g, '');
  if (!goFloatRe.test(plain)) throw new SizeError(`strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  let size = Number(/^[+-]?inf/i.test(plain) ? (plain.startsWith('-') ? -Infinity : Infinity) : plain);
  if (size < 0) throw new SizeError(`invalid size: '${sizeStr}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = () => new SizeError(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const power = 'kmgtp'.indexOf(sfx[0]!);
  if (power < 0) throw bad();
  size *= base ** (power + 1);
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}

/**
 * go-units RAMInBytes: a size with an optional binary unit, case-insensitive, optional "b"/"ib" suffix:
 * "512m" → 536870912, "1g" = "1GB" = "1GiB" → 1073741824, "100" → 100. Throws SizeError when malformed.
 */
export function parseBytes(size: string): number {
  return parseSize(size, 1024);
}

/** go-units FromHumanSize: like parseBytes but with decimal units ("44kB" → 44000). */
export function parseHumanSize(size: string): number {
  return parseSize(size, 1000);
}
