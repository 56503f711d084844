// Size strings as docker's go-units parses them: for CLI flags (`--memory 512m`) and daemon options (`max-size=10m`).

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
