/**
 * Go's value printing, as the docker CLI's templates show values: `fmt.Sprint`/`Sprintf`/`Sprintln`,
 * `strconv.FormatFloat` and `strconv.Quote`, and `encoding/json` encoding. Written by hand for Berth.
 *
 * How JavaScript values stand for Go values:
 * - `undefined` is Go's "no value" (a missing map key); `null` is nil.
 * - a string is a `string`; a boolean a `bool`; a bigint an `int`.
 * - a number is an `int` when it is an integer, else a `float64` (so float verbs accept integers too).
 * - an array (or typed array) is a slice; a `Map` or a plain object (prototype `Object.prototype` or null) is a map;
 *   any other object (a class instance) is a struct, printed `{v1 v2}`, or via its own `toString` (a Stringer).
 */

import { hasBrand } from '../../util/brand.js';

/** An object may name its Go type (for `%T` and error messages) under this key, e.g. `*formatter.imageContext`. */
export const goType: unique symbol = Symbol.for('berth.format.goType');

/** Objects carrying this method encode themselves to JSON (Go's `json.Marshaler`); it returns JSON text. */
export const marshalJSON: unique symbol = Symbol.for('berth.format.marshalJSON');

/**
 * A float64 whose value is an integer, e.g. the template literal `1e6` or `-0.0`: Go prints it as a float ("1e+06"),
 * and JavaScript numbers cannot tell. Arithmetic and comparisons see its number through valueOf.
 */
// Both classes are recognised by brand: values made by the fast path's copy of this module are read by the
// template engine's (see util/brand.ts).
const goFloatBrand = Symbol.for('berth.format.GoFloat');
const goNilBrand = Symbol.for('berth.format.GoNil');

export class GoFloat {
  static [Symbol.hasInstance](v: unknown): v is GoFloat {
    return hasBrand(this, GoFloat, v, goFloatBrand);
  }
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  get [goFloatBrand](): true {
    return true;
  }
}

/** The plain JavaScript value for a Go value (GoFloat → number), for handing to functions written in JavaScript. */
export function toJS(v: unknown): unknown {
  return v instanceof GoFloat ? v.value : v;
}

export type GoKind = 'invalid' | 'nil' | 'bool' | 'int' | 'float' | 'string' | 'slice' | 'map' | 'struct' | 'func';

export function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/**
 * A typed nil pointer, Go's `(*T)(nil)`: prints `<nil>`, encodes as null and is false, where a JavaScript null (a
 * nil interface) prints "<no value>" in a template.
 */
export class GoNil {
  static [Symbol.hasInstance](v: unknown): v is GoNil {
    return hasBrand(this, GoNil, v, goNilBrand);
  }
  constructor(readonly type: string) {}
  get [goNilBrand](): true {
    return true;
  }
}

export function kindOf(v: unknown): GoKind {
  if (v === undefined) return 'invalid';
  if (v === null || v instanceof GoNil) return 'nil';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'function':
      return 'func';
    case 'object':
      if (v instanceof GoFloat) return 'float';
      if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'slice';
      if (v instanceof Map || isPlainObject(v)) return 'map';
      return 'struct';
    default:
      return 'struct';
  }
}

/** The Go type name `%T` and error messages use for a value. */
export function goTypeName(v: unknown): string {
  if (v instanceof GoNil) return v.type;
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'string':
      return 'string';
    case 'slice':
      return v instanceof Uint8Array ? '[]uint8' : '[]interface {}';
    case 'map':
      return 'map[string]interface {}';
    case 'func':
      return 'func(...interface {}) interface {}';
    default: {
      const own = (v as { [goType]?: unknown })[goType];
      if (typeof own === 'string') return own;
      const name = (v as object).constructor?.name;
      return name ? `*${name}` : 'struct {}';
    }
  }
}

/** Sorted entries of a map value (Go prints and ranges over maps in key order). */
export function mapEntries(v: object): [unknown, unknown][] {
  if (v instanceof Map) {
    const entries = [...v.entries()] as [unknown, unknown][];
    return entries.sort((a, b) => compareKeys(a[0], b[0]));
  }
  return Object.keys(v)
    .sort(compareKeys)
    .map((k) => [k, (v as Record<string, unknown>)[k]]);
}

function compareKeys(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Own enumerable values of a struct-like object, in insertion order (Go prints struct fields in declaration order). */
function structValues(v: object): unknown[] {
  return Object.keys(v).map((k) => (v as Record<string, unknown>)[k]);
}

/** The String() of a Stringer-like object, or undefined when it has none of its own. */
function stringerOf(v: object): string | undefined {
  if (v instanceof Error) return v.message;
  const ts = (v as { toString?: unknown }).toString;
  if (typeof ts === 'function' && ts !== Object.prototype.toString) return String(ts.call(v));
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Floats (strconv.FormatFloat)

interface Digits {
  d: string; // significant digits, no leading or trailing zeros ('' for zero)
  dp: number; // position of the decimal point: value = 0.d × 10^dp
}

/** The exact decimal expansion of a finite positive double. */
function exactDigits(x: number): Digits {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  let exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (exp === 0) exp = 1;
  else mant |= 1n << 52n;
  exp -= 1075;
  let d: string;
  let dp: number;
  if (exp >= 0) {
    d = (mant << BigInt(exp)).toString();
    dp = d.length;
  } else {
    d = (mant * 5n ** BigInt(-exp)).toString();
    dp = d.length + exp;
  }
  return trimDigits({ d, dp });
}

function trimDigits(x: Digits): Digits {
  let d = x.d;
  let dp = x.dp;
  let lead = 0;
  while (lead < d.length && d[lead] === '0') lead++;
  d = d.slice(lead);
  dp -= lead;
  d = d.replace(/0+$/, '');
  if (d === '') dp = 0;
  return { d, dp };
}

/** The shortest digits that read back as x (what Go's and JavaScript's shortest formatting both produce). */
function shortestDigits(x: number): Digits {
  if (x === 0) return { d: '', dp: 0 };
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
  if (!m) throw new Error(`cannot format ${x}`);
  return trimDigits({ d: m[1]! + (m[2] ?? ''), dp: Number(m[3]) + 1 });
}

/** Rounds exact digits to nd significant digits, halfway cases to even (as strconv does). */
function roundDigits(x: Digits, nd: number): Digits {
  const { d, dp } = x;
  if (nd < 0) return { d: '', dp: 0 };
  if (nd >= d.length) return x;
  let up: boolean;
  if (d[nd] === '5' && nd + 1 === d.length) up = nd > 0 && Number(d[nd - 1]) % 2 === 1;
  else up = d[nd]! >= '5';
  let r = d.slice(0, nd);
  if (!up) return trimDigits({ d: r, dp });
  let i = r.length - 1;
  while (i >= 0 && r[i] === '9') i--;
  if (i < 0) return { d: '1', dp: dp + 1 };
  r = r.slice(0, i) + String(Number(r[i]) + 1);
  return trimDigits({ d: r, dp });
}

function fmtE(neg: boolean, x: Digits, prec: number, e: 'e' | 'E'): string {
  let s = neg ? '-' : '';
  s += x.d.length > 0 ? x.d[0] : '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) s += i < x.d.length ? x.d[i] : '0';
  }
  let exp = x.d.length === 0 ? 0 : x.dp - 1;
  s += e;
  if (exp < 0) {
    s += '-';
    exp = -exp;
  } else s += '+';
  s += exp < 10 ? `0${exp}` : String(exp);
  return s;
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let s = neg ? '-' : '';
  if (x.dp > 0) {
    s += x.d.slice(0, x.dp);
    for (let i = x.d.length; i < x.dp; i++) s += '0';
  } else s += '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = x.dp + i - 1;
      s += j >= 0 && j < x.d.length ? x.d[j] : '0';
    }
  }
  return s;
}

/** strconv.FormatFloat(x, fmt, prec, 64); prec -1 means the shortest representation. */
export function formatFloat(x: number, fmt: 'e' | 'E' | 'f' | 'g' | 'G', prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  const shortest = prec < 0;
  let digs: Digits;
  if (shortest) {
    digs = shortestDigits(abs);
    if (fmt === 'e' || fmt === 'E') prec = Math.max(digs.d.length - 1, 0);
    else if (fmt === 'f') prec = Math.max(digs.d.length - digs.dp, 0);
    else prec = digs.d.length;
  } else {
    const exact = abs === 0 ? { d: '', dp: 0 } : exactDigits(abs);
    if (fmt === 'e' || fmt === 'E') digs = roundDigits(exact, prec + 1);
    else if (fmt === 'f') digs = roundDigits(exact, exact.dp + prec);
    else {
      if (prec === 0) prec = 1;
      digs = roundDigits(exact, prec);
    }
  }
  if (fmt === 'e' || fmt === 'E') return fmtE(neg, digs, prec, fmt);
  if (fmt === 'f') return fmtF(neg, digs, prec);
  let eprec = prec;
  if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
  if (shortest) eprec = 6;
  const exp = digs.dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (prec > digs.d.length) prec = digs.d.length;
    return fmtE(neg, digs, prec - 1, fmt === 'g' ? 'e' : 'E');
  }
  if (prec > digs.dp) prec = digs.d.length;
  return fmtF(neg, digs, Math.max(prec - digs.dp, 0));
}

// ---------------------------------------------------------------------------------------------------------------
// Quoting (strconv.Quote) and printability (unicode.IsPrint)

/** Made on first use: creating it parses its Unicode classes (~0.4 ms of every CLI run that loads this module). */
let printRe: RegExp | undefined;

export function isPrint(ch: string): boolean {
  // ASCII without the regex, whose first use compiles its Unicode tables (~1 ms of a CLI run): 0x20–0x7e print,
  // the controls do not.
  if (ch.length === 1) {
    const c = ch.charCodeAt(0);
    if (c < 0x80) return c >= 0x20 && c < 0x7f;
  }
  return (printRe ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u).test(ch);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** strconv.Quote: a double-quoted Go string literal. */
export function quote(s: string, quoteChar = '"', asciiOnly = false): string {
  let out = quoteChar;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quoteChar || ch === '\\') {
      out += `\\${ch}`;
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += '\\ufffd';
      continue;
    }
    if (asciiOnly ? cp < 0x80 && isPrint(ch) : isPrint(ch)) {
      out += ch;
      continue;
    }
    switch (ch) {
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return out + quoteChar;
}

/** `%#U`-style rune description used in template lexer errors: `U+0023 '#'`. */
export function describeRune(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return isPrint(ch) ? `${u} '${ch}'` : u;
}

export function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

// ---------------------------------------------------------------------------------------------------------------
// fmt

interface Flags {
  plus: boolean;
  minus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  wid?: number;
  prec?: number;
  plusV: boolean;
  sharpV: boolean;
}

const noFlags = (): Flags => ({ plus: false, minus: false, sharp: false, space: false, zero: false, plusV: false, sharpV: false });

function pad(s: string, f: Flags, zeroOK = true): string {
  if (f.wid === undefined) return s;
  const n = f.wid - runeCount(s);
  if (n <= 0) return s;
  if (f.minus) return s + ' '.repeat(n);
  if (f.zero && zeroOK) return '0'.repeat(n) + s;
  return ' '.repeat(n) + s;
}

function toBigInt(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

function fmtInteger(v: bigint, base: number, verb: string, f: Flags): string {
  const neg = v < 0n;
  let digits = (neg ? -v : v).toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  if (f.prec !== undefined) {
    if (f.prec === 0 && v === 0n) digits = '';
    digits = digits.padStart(f.prec, '0');
  } else if (f.zero && !f.minus && f.wid !== undefined) {
    let w = f.wid;
    if (neg || f.plus || f.space) w--;
    if (f.sharp && (base === 16 || base === 2)) w -= 2;
    if (verb === 'O') w -= 2;
    digits = digits.padStart(w, '0');
  }
  let prefix = '';
  if (f.sharp) {
    if (base === 8 && digits[0] !== '0') prefix = '0';
    else if (base === 16) prefix = verb === 'X' ? '0X' : '0x';
    else if (base === 2) prefix = '0b';
  }
  if (verb === 'O') prefix = '0o';
  const sign = neg ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  return pad(sign + prefix + digits, { ...f, zero: false });
}

/** strconv.FormatFloat(x, 'x', prec, 64): "0x1.8p+01". */
export function formatHexFloat(x: number, prec: number, fmt: 'x' | 'X' = 'x'): string {
  let s: string;
  if (Number.isNaN(x)) s = 'NaN';
  else if (!Number.isFinite(x)) s = x > 0 ? '+Inf' : '-Inf';
  else {
    const neg = x < 0 || Object.is(x, -0);
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, Math.abs(x));
    const bits = view.getBigUint64(0);
    let exp = Number((bits >> 52n) & 0x7ffn);
    let mant = bits & ((1n << 52n) - 1n);
    if (exp === 0 && mant === 0n) exp = 0;
    else if (exp === 0) {
      // subnormal: normalise so the leading bit is 1
      exp = -1022;
      while (!(mant & (1n << 52n))) {
        mant <<= 1n;
        exp--;
      }
      mant &= (1n << 52n) - 1n;
    } else exp -= 1023;
    const isZero = x === 0;
    let lead = isZero ? 0n : 1n;
    let frac = mant; // 52 bits = 13 hex digits
    let digits = 13;
    if (prec >= 0 && prec < 13) {
      const shift = BigInt(4 * (13 - prec));
      const half = 1n << (shift - 1n);
      const rem = frac & ((1n << shift) - 1n);
      frac >>= shift;
      if (rem > half || (rem === half && (frac & 1n) === 1n)) frac++;
      if (frac >> BigInt(4 * prec) > 0n) {
        frac &= (1n << BigInt(4 * prec)) - 1n;
        lead++;
        if (lead === 2n) {
          lead = 1n;
          frac >>= 1n;
          exp++;
        }
      }
      digits = prec;
    }
    let fracHex = digits > 0 ? frac.toString(16).padStart(digits, '0') : '';
    if (prec < 0) fracHex = fracHex.replace(/0+$/, '');
    else fracHex = fracHex.padEnd(prec, '0');
    if (isZero) exp = 0;
    const e = Math.abs(exp);
    s = `${neg ? '-' : ''}0x${lead}${fracHex ? `.${fracHex}` : ''}p${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  return fmt === 'X' ? s.toUpperCase().replace('INF', 'Inf').replace('NAN', 'NaN') : s;
}

function fmtFloatVerb(v: number, verb: string, f: Flags): string {
  let fmt: 'e' | 'E' | 'f' | 'g' | 'G' | 'x' | 'X';
  let prec = f.prec ?? -1;
  switch (verb) {
    case 'x':
    case 'X':
      fmt = verb;
      break;
    case 'v':
    case 'g':
      fmt = 'g';
      break;
    case 'G':
      fmt = 'G';
      break;
    case 'e':
    case 'E':
      fmt = verb;
      if (f.prec === undefined) prec = 6;
      break;
    default:
      fmt = 'f';
      if (f.prec === undefined) prec = 6;
  }
  let num = fmt === 'x' || fmt === 'X' ? formatHexFloat(v, prec, fmt) : formatFloat(v, fmt, prec);
  if (num === 'NaN' || num === '+Inf' || num === '-Inf') {
    if (num === '+Inf' && !f.plus) num = f.space ? ' Inf' : 'Inf';
    else if (num === 'NaN' && (f.plus || f.space)) num = (f.plus ? '+' : ' ') + num;
    return pad(num, f, false);
  }
  if (f.sharp && (fmt === 'g' || fmt === 'G')) {
    // %#g keeps trailing zeros and always shows a decimal point
    const m = /^(-?)(\d+)(?:\.(\d*))?([eE].*)?$/.exec(num);
    if (m) {
      let digits = f.prec ?? 6;
      const intPart = m[2]!;
      const frac = m[3] ?? '';
      const all = (intPart + frac).replace(/^0+/, '');
      digits -= all.length === 0 ? 1 : all.length;
      num = `${m[1]}${intPart}.${frac}${'0'.repeat(Math.max(digits, 0))}${m[4] ?? ''}`;
    }
  } else if (f.sharp && !num.includes('.')) {
    num = num.replace(/^(-?\d+)/, '$1.');
  }
  const neg = num.startsWith('-');
  const body = neg ? num.slice(1) : num;
  const sign = neg ? '-' : f.plus ? '+' : f.space ? ' ' : '';
  if (f.zero && !f.minus && f.wid !== undefined && f.wid > runeCount(sign + body)) {
    return sign + '0'.repeat(f.wid - runeCount(sign + body)) + body;
  }
  return pad(sign + body, { ...f, zero: false });
}

function fmtString(s: string, verb: string, f: Flags): string {
  switch (verb) {
    case 'v':
    case 's': {
      if (verb === 'v' && f.sharpV) return pad(quote(s), f);
      if (f.prec !== undefined) s = [...s].slice(0, f.prec).join('');
      return pad(s, f);
    }
    case 'q': {
      if (f.prec !== undefined) s = [...s].slice(0, f.prec).join('');
      if (f.sharp && !s.includes('`') && ![...s].some((c) => c !== '\t' && !isPrint(c))) return pad(`\`${s}\``, f);
      return pad(quote(s, '"', f.plus), f);
    }
    case 'x':
    case 'X': {
      let bytes = utf8(s);
      if (f.prec !== undefined) bytes = bytes.subarray(0, f.prec);
      const parts = [...bytes].map((b) => {
        let h = hex(b, 2);
        if (verb === 'X') h = h.toUpperCase();
        return h;
      });
      let out: string;
      const prefix = f.sharp ? (verb === 'X' ? '0X' : '0x') : '';
      if (f.space) out = parts.map((p) => prefix + p).join(' ');
      else out = prefix + parts.join('');
      return pad(out, f);
    }
    default:
      return badVerb(verb, s);
  }
}

function badVerb(verb: string, v: unknown): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(v)}=${formatValue(v, 'v', noFlags())})`;
}

function fmtRune(cp: number): string {
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(cp);
}

/** Formats one operand under one verb, as fmt's printArg does. */
export function formatValue(v: unknown, verb: string, f: Flags): string {
  if (verb === 'T') return pad(goTypeName(v), f);
  if (v === undefined || v === null || v instanceof GoNil) {
    if (verb === 'v') return pad('<nil>', f);
    return badVerb(verb, v);
  }
  switch (typeof v) {
    case 'boolean':
      if (verb === 't' || verb === 'v') return pad(v ? 'true' : 'false', f);
      return badVerb(verb, v);
    case 'string':
      return fmtString(v, verb, f);
    case 'bigint':
    case 'number': {
      const isInt = typeof v === 'bigint' || (Number.isInteger(v) && Math.abs(v) < 2 ** 63);
      if (isInt && !'eEfFgG'.includes(verb)) {
        const n = toBigInt(v);
        switch (verb) {
          case 'v':
          case 'd':
            return fmtInteger(n, 10, verb, f);
          case 'b':
            return fmtInteger(n, 2, verb, f);
          case 'o':
          case 'O':
            return fmtInteger(n, 8, verb, f);
          case 'x':
          case 'X':
            return fmtInteger(n, 16, verb, f);
          case 'c':
            return pad(fmtRune(Number(n)), f);
          case 'q': {
            const r = fmtRune(Number(n));
            return pad(quote(r, "'", f.plus), f);
          }
          case 'U': {
            let s = `U+${n.toString(16).toUpperCase().padStart(4, '0')}`;
            const r = fmtRune(Number(n));
            if (f.sharp && isPrint(r)) s += ` '${r}'`;
            return pad(s, f);
          }
          default:
            return badVerb(verb, v);
        }
      }
      const x = Number(v);
      if ('veEfFgGxX'.includes(verb)) return fmtFloatVerb(x, verb, f);
      return badVerb(verb, v);
    }
    case 'function':
      return badVerb(verb, v);
    default:
      break;
  }
  if (v instanceof GoFloat) {
    if ('veEfFgGxX'.includes(verb)) return fmtFloatVerb(v.value, verb, f);
    return badVerb(verb, v);
  }
  const o = v as object;
  if (Array.isArray(o) || ArrayBuffer.isView(o)) {
    const items: unknown[] = Array.isArray(o) ? o : [...(o as unknown as Iterable<unknown>)];
    if (f.sharpV) {
      const inner = items.map((e) => formatValue(e ?? null, verb, f)).join(', ');
      return `${goTypeName(o)}{${inner}}`;
    }
    const sub = { ...f, wid: undefined };
    const parts = items.map((e) => (e === null || e === undefined ? '<nil>' : formatValue(e, verb, sub)));
    return pad(`[${parts.join(' ')}]`, { ...f, zero: false });
  }
  if (o instanceof Map || isPlainObject(o)) {
    const entries = mapEntries(o);
    if (f.sharpV) {
      const inner = entries.map(([k, e]) => `${formatValue(k, verb, f)}:${formatValue(e ?? null, verb, f)}`).join(', ');
      return `map[string]interface {}{${inner}}`;
    }
    const sub = { ...f, wid: undefined };
    const parts = entries.map(([k, e]) => `${formatValue(k, verb, sub)}:${e === null || e === undefined ? '<nil>' : formatValue(e, verb, sub)}`);
    return pad(`map[${parts.join(' ')}]`, { ...f, zero: false });
  }
  const str = stringerOf(o);
  if (str !== undefined && !f.sharpV && 'vsqxX'.includes(verb)) return fmtString(str, verb, f);
  const sub = { ...f, wid: undefined };
  if (f.plusV || f.sharpV) {
    const parts = Object.keys(o).map((k) => `${k}:${formatValue((o as Record<string, unknown>)[k] ?? null, verb, sub)}`);
    return pad(`{${parts.join(f.sharpV ? ', ' : ' ')}}`, f);
  }
  return pad(`{${structValues(o).map((e) => (e === null || e === undefined ? '<nil>' : formatValue(e, verb, sub))).join(' ')}}`, f);
}

/** fmt.Sprint of one value (`%v`). */
export function formatV(v: unknown): string {
  return formatValue(v, 'v', noFlags());
}

/** fmt.Sprint: operands are separated by a space when neither side is a string. */
export function sprint(...args: unknown[]): string {
  let out = '';
  let prevString = false;
  args.forEach((a, i) => {
    const isString = typeof a === 'string';
    if (i > 0 && !isString && !prevString) out += ' ';
    out += formatV(a);
    prevString = isString;
  });
  return out;
}

/** fmt.Sprintln: operands always separated by spaces, newline appended. */
export function sprintln(...args: unknown[]): string {
  return `${args.map((a) => formatV(a)).join(' ')}\n`;
}

/** fmt.Sprintf. Supports flags `+-# 0`, width and precision (also `*`), explicit argument indexes `[n]`. */
export function sprintf(format: string, ...args: unknown[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  let i = 0;
  const n = format.length;
  const intArg = (): number | undefined => {
    if (argNum >= args.length) return undefined;
    const a = args[argNum++];
    if (typeof a === 'number' && Number.isInteger(a)) return a;
    if (typeof a === 'bigint') return Number(a);
    return undefined;
  };
  const argIndex = (): boolean => {
    // parses "[n]" at i, if present; returns false on a malformed index
    if (format[i] !== '[') return true;
    reordered = true;
    const close = format.indexOf(']', i);
    if (close < 0) return false;
    const idx = Number(format.slice(i + 1, close));
    i = close + 1;
    if (!Number.isInteger(idx) || idx < 1 || idx > args.length) return false;
    argNum = idx - 1;
    return true;
  };
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const f = noFlags();
    flags: for (; i < n; i++) {
      switch (format[i]) {
        case '#':
          f.sharp = true;
          break;
        case '0':
          f.zero = !f.minus;
          break;
        case '+':
          f.plus = true;
          break;
        case '-':
          f.minus = true;
          f.zero = false;
          break;
        case ' ':
          f.space = true;
          break;
        default:
          break flags;
      }
    }
    let goodArgNum = argIndex();
    if (format[i] === '*') {
      i++;
      const w = intArg();
      if (w === undefined) out += '%!(BADWIDTH)';
      else {
        f.wid = Math.abs(w);
        if (w < 0) {
          f.minus = true;
          f.zero = false;
        }
      }
    } else {
      const m = /^\d+/.exec(format.slice(i));
      if (m) {
        f.wid = Number(m[0]);
        i += m[0].length;
      }
    }
    if (format[i] === '.') {
      i++;
      goodArgNum = goodArgNum && argIndex();
      if (format[i] === '*') {
        i++;
        const p = intArg();
        if (p === undefined || p < 0) out += '%!(BADPREC)';
        else f.prec = p;
      } else {
        const m = /^\d+/.exec(format.slice(i));
        f.prec = m ? Number(m[0]) : 0;
        if (m) i += m[0].length;
      }
    }
    goodArgNum = goodArgNum && argIndex();
    if (i >= n) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodArgNum) {
      out += `%!${verb}(BADINDEX)`;
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argNum++];
    if (verb === 'v') {
      if (f.sharp) {
        f.sharp = false;
        f.sharpV = true;
      }
      if (f.plus) {
        f.plus = false;
        f.plusV = true;
      }
    }
    out += formatValue(a, verb, f);
  }
  if (!reordered && argNum < args.length) {
    out += '%!(EXTRA ';
    out += args
      .slice(argNum)
      .map((a) => (a === null || a === undefined ? '<nil>' : `${goTypeName(a)}=${formatV(a)}`))
      .join(', ');
    out += ')';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// encoding/json

export interface JSONOptions {
  /** Escape <, > and & as \u003c, \u003e, \u0026 (json.Marshal does; docker's `json` template func does not). */
  escapeHTML?: boolean;
  /** Sort object keys (Go maps always encode sorted; structs encode in field order). Maps are always sorted. */
  sortKeys?: boolean;
}

/** A JSON string literal exactly as Go's encoding/json writes it. */
export function jsonString(s: string, escapeHTML = false): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c && !(escapeHTML && (c === 0x3c || c === 0x3e || c === 0x26))) {
      if (c >= 0xd800 && c <= 0xdbff) {
        const next = s.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          out += s[i]! + s[i + 1]!;
          i++;
        } else out += '\\ufffd';
        continue;
      }
      if (c >= 0xdc00 && c <= 0xdfff) {
        out += '\\ufffd';
        continue;
      }
      if (c === 0x2028 || c === 0x2029) {
        out += `\\u${hex(c, 4)}`;
        continue;
      }
      out += s[i];
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      default:
        out += `\\u${hex(c, 4)}`;
    }
  }
  return out + '"';
}

/** A float64 as encoding/json writes it. */
export function jsonNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`json: unsupported value: ${formatFloat(x, 'g', -1)}`);
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return Object.is(x, -0) ? '-0' : BigInt(x).toString();
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) {
    return formatFloat(x, 'e', -1).replace(/e([+-])0(\d)$/, 'e$1$2');
  }
  return formatFloat(x, 'f', -1);
}

/** Go's encoding/json, compact. Plain objects keep insertion order (like struct fields) unless sortKeys; Maps are sorted. */
export function goJSON(v: unknown, opts: JSONOptions = {}): string {
  const seen = new Set<object>();
  const enc = (x: unknown): string => {
    if (x === undefined || x === null || x instanceof GoNil) return 'null';
    switch (typeof x) {
      case 'string':
        return jsonString(x, opts.escapeHTML);
      case 'boolean':
        return x ? 'true' : 'false';
      case 'number':
        return jsonNumber(x);
      case 'bigint':
        return x.toString();
      case 'function':
      case 'symbol':
        throw new Error(`json: unsupported type: ${goTypeName(x)}`);
      default:
        break;
    }
    if (x instanceof GoFloat) return jsonNumber(x.value);
    const o = x as object;
    const custom = (o as { [marshalJSON]?: unknown })[marshalJSON];
    if (typeof custom === 'function') return String(custom.call(o));
    if (seen.has(o)) throw new Error('json: unsupported value: encountered a cycle');
    seen.add(o);
    try {
      if (o instanceof Uint8Array) return jsonString(Buffer.from(o).toString('base64'));
      if (Array.isArray(o)) return `[${o.map((e) => (typeof e === 'function' ? 'null' : enc(e))).join(',')}]`;
      const toJSON = (o as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return enc(toJSON.call(o));
      let entries: [unknown, unknown][];
      if (o instanceof Map) entries = mapEntries(o);
      else {
        const keys = Object.keys(o);
        if (opts.sortKeys) keys.sort(compareKeys);
        entries = keys.map((k) => [k, (o as Record<string, unknown>)[k]]);
      }
      const parts: string[] = [];
      for (const [k, e] of entries) {
        if (e === undefined || typeof e === 'function') continue;
        parts.push(`${jsonString(String(k), opts.escapeHTML)}:${enc(e)}`);
      }
      return `{${parts.join(',')}}`;
    } finally {
      seen.delete(o);
    }
  };
  return enc(v);
}
