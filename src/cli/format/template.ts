/**
 * Go `text/template`, as the docker CLI's `--format` uses it, with docker's extra functions.
 *
 * Hand-written for Berth: no npm library implements Go's text/template faithfully (its lexer and trim markers,
 * pipelines with the previous value as last argument, typed function arguments, Go's value printing, and its
 * exact error messages), and docker users' scripts depend on all of those. The lexer, parser and evaluator below
 * follow the Go language's documented behaviour and error wording so `berth --format` prints what `docker --format`
 * prints. See gofmt.ts for how JavaScript values stand for Go values.
 *
 * Supported: text and actions, trim markers `{{-`/`-}}`, comments, fields and map keys (`.A.B`), methods (function
 * values on objects, called with arguments), `.`, `$`, variables (`$x := …`, `$x = …`), parenthesized pipelines and
 * chains (`(…).Field`), pipelines (`a | b`), literals (strings, raw strings, chars, ints, floats, bools, nil),
 * `if`/`else if`/`else`, `range` (with `$i, $v :=`, `else`, `break`, `continue`; over slices, maps in key order, and
 * integers), `with` (and `else with`), `define`/`template`/`block`, Go's builtins (`and or not len index slice print
 * printf println html js urlquery call eq ne lt le gt ge`) and docker's (`json split join title lower upper pad
 * truncate`). Not supported: complex numbers, range over functions/channels, custom delimiters.
 */
import { GoFloat, GoNil, describeRune, formatV, goJSON, goTypeName, isPlainObject, kindOf, mapEntries, quote, sprint, sprintf, sprintln, toJS } from './gofmt.js';

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** Raised for both parse and execution errors; the message is docker's: `template parsing error: template: …`. */
export class TemplateError extends Error {
  /** The Go error text without docker's `template parsing error: ` prefix. */
  readonly goMessage: string;
  /** Output produced before an execution error (Go keeps what was already written). */
  readonly partial: string;
  constructor(
    readonly kind: 'parse' | 'exec',
    goMessage: string,
    partial = '',
  ) {
    super(`template parsing error: ${goMessage}`);
    this.name = 'TemplateError';
    this.goMessage = goMessage;
    this.partial = partial;
  }
}

class ParseFailure {
  constructor(readonly message: string) {}
}
class ExecFailure {
  constructor(readonly message: string) {}
}
class BreakSignal {}
class ContinueSignal {}
const breakSignal = new BreakSignal();
const continueSignal = new ContinueSignal();

// ---------------------------------------------------------------------------------------------------------------
// Functions

/**
 * A Go parameter type, which decides how arguments are checked and converted:
 * `any` is interface{} (a missing value arrives as null), `value` is reflect.Value (a missing value arrives as
 * undefined), `strings` is []string (any array is accepted).
 */
export type ParamType = 'any' | 'value' | 'string' | 'int' | 'float' | 'bool' | 'strings';

export interface FuncSpec {
  params: ParamType[];
  /** Type of the variadic tail, if the function is variadic. */
  variadic?: ParamType;
  fn: (...args: never[]) => unknown;
}

/** A plain function is taken as variadic over `any`. */
export type FuncMap = Record<string, FuncSpec | ((...args: never[]) => unknown)>;

const typeNames: Record<ParamType, string> = {
  any: 'interface {}',
  value: 'reflect.Value',
  string: 'string',
  int: 'int',
  float: 'float64',
  bool: 'bool',
  strings: '[]string',
};

function spec(params: ParamType[], fn: FuncSpec['fn'], variadic?: ParamType): FuncSpec {
  return variadic ? { params, fn, variadic } : { params, fn };
}

function toSpec(f: FuncSpec | ((...args: never[]) => unknown)): FuncSpec {
  if (typeof f !== 'function') return f;
  const fn = f as (...args: unknown[]) => unknown;
  return { params: [], variadic: 'any', fn: ((...args: unknown[]) => fn(...args.map(toJS))) as FuncSpec['fn'] };
}

function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** Go's notion of truth: not the zero value of its type. */
export function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v as boolean;
    case 'int':
      return typeof v === 'bigint' ? v !== 0n : v !== 0;
    case 'float':
      return Number(v) !== 0;
    case 'string':
      return (v as string).length > 0;
    case 'slice':
      return (v as ArrayLike<unknown>).length > 0;
    case 'map':
      return v instanceof Map ? v.size > 0 : Object.keys(v as object).length > 0;
    default:
      return true;
  }
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'invalid';
function basicKind(v: unknown): BasicKind {
  const k = kindOf(v);
  return k === 'bool' || k === 'int' || k === 'float' || k === 'string' ? k : 'invalid';
}
/** JavaScript cannot tell Go's ints from floats, so the two compare with each other. */
function sameKind(a: BasicKind, b: BasicKind): boolean {
  const num = (k: BasicKind) => k === 'int' || k === 'float';
  return a === b || (num(a) && num(b));
}
const isZero = (v: unknown) => v === undefined || v === null;

function eq(arg1: unknown, ...args: unknown[]): boolean {
  if (args.length === 0) throw new Error('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of args) {
    const k2 = basicKind(arg);
    let truth = false;
    if (!sameKind(k1, k2)) {
      if (!isZero(arg1) && !isZero(arg)) throw new Error('incompatible types for comparison');
    } else if (k1 === 'int' || k1 === 'float') {
      truth = typeof arg1 === 'bigint' && typeof arg === 'bigint' ? arg1 === arg : Number(arg1) === Number(arg);
    } else if (k1 !== 'invalid') {
      truth = arg1 === arg;
    } else if (isZero(arg1) || isZero(arg)) {
      truth = isZero(arg1) === isZero(arg);
    } else if (kindOf(arg1) !== kindOf(arg)) {
      throw new Error(`non-comparable types ${formatV(arg1)}: ${goTypeName(arg1)}, ${goTypeName(arg)}: ${formatV(arg)}`);
    } else if (kindOf(arg) === 'slice' || kindOf(arg) === 'map' || kindOf(arg) === 'func') {
      throw new Error(`non-comparable type ${formatV(arg)}: ${goTypeName(arg)}`);
    } else truth = arg1 === arg;
    if (truth) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k2 === 'invalid') throw new Error('invalid type for comparison');
  if (!sameKind(k1, k2)) throw new Error('incompatible types for comparison');
  if (k1 === 'bool') throw new Error('invalid type for comparison');
  if (k1 === 'string') return (a as string) < (b as string);
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b;
  return Number(a) < Number(b);
}

function length(v: unknown): number {
  if (v === undefined) throw new Error('reflect: call of reflect.Value.Type on zero Value');
  if (v === null) throw new Error('len of nil pointer');
  switch (kindOf(v)) {
    case 'string':
      return utf8(v as string).length;
    case 'slice':
      return (v as ArrayLike<unknown>).length;
    case 'map':
      return v instanceof Map ? v.size : Object.keys(v as object).length;
    default:
      throw new Error(`len of type ${goTypeName(v)}`);
  }
}

function indexArg(index: unknown, cap: number): number {
  if (isZero(index)) throw new Error('cannot index slice/array with nil');
  if (kindOf(index) !== 'int') throw new Error(`cannot index slice/array with type ${goTypeName(index)}`);
  const x = Number(index);
  if (x < 0 || x > cap) throw new Error(`index out of range: ${x}`);
  return x;
}

/** The zero value a missing map key yields: "" for string-valued maps (map[string]string), else no value. */
function missingMapValue(m: object): unknown {
  const values = m instanceof Map ? [...m.values()] : Object.values(m);
  return values.every((x) => typeof x === 'string') ? '' : undefined;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  if (isZero(item)) throw new Error('index of untyped nil');
  for (const idx of indexes) {
    if (item === null || item instanceof GoNil) throw new Error('index of nil pointer');
    const k = kindOf(item);
    if (k === 'string') {
      const bytes = utf8(item as string);
      const x = indexArg(idx, bytes.length);
      if (x === bytes.length) throw new Error(`reflect: string index out of range`);
      item = bytes[x]!;
    } else if (k === 'slice') {
      const arr = item as ArrayLike<unknown>;
      const x = indexArg(idx, arr.length);
      if (x === arr.length) throw new Error(`reflect: slice index out of range`);
      item = arr[x] ?? null;
    } else if (k === 'map') {
      if (item instanceof Map) {
        item = item.has(idx) ? item.get(idx) : missingMapValue(item);
      } else {
        if (isZero(idx)) throw new Error('value is nil; should be of type string');
        if (typeof idx !== 'string') throw new Error(`value has type ${goTypeName(idx)}; should be string`);
        const m = item as Record<string, unknown>;
        item = Object.hasOwn(m, idx) ? m[idx] : missingMapValue(m);
      }
    } else if (item === undefined) {
      throw new Error('index of untyped nil');
    } else {
      throw new Error(`can't index item of type ${goTypeName(item)}`);
    }
  }
  return item;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (isZero(item)) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  const k = kindOf(item);
  let len: number;
  if (k === 'string') {
    if (indexes.length === 3) throw new Error('cannot 3-index slice a string');
    len = utf8(item as string).length;
  } else if (k === 'slice') len = (item as ArrayLike<unknown>).length;
  else throw new Error(`can't slice item of type ${goTypeName(item)}`);
  const idx = [0, len];
  indexes.forEach((x, i) => {
    idx[i] = indexArg(x, len);
  });
  if (idx[0]! > idx[1]!) throw new Error(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!) throw new Error(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (k === 'string') return utf8(item as string).subarray(idx[0], idx[1]).toString('utf8');
  return Array.from(item as ArrayLike<unknown>).slice(idx[0], idx[1]);
}

/** text/template's evalArgs: one string argument as-is, otherwise fmt.Sprint of all. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(...args);
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\ufffd', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (cp < 0x20 || (cp >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch))) {
      out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    } else out += ch;
  }
  return out;
}

function queryEscape(s: string): string {
  let out = '';
  for (const b of utf8(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// Go maps case rune by rune (Unicode's simple mappings): a rune whose full mapping has several runes stays as it is.
const toUpperRune = (ch: string) => {
  const u = ch.toUpperCase();
  return [...u].length === 1 ? u : ch;
};
const toLowerRune = (ch: string) => {
  if (ch === '\u0130') return 'i';
  const l = ch.toLowerCase();
  return [...l].length === 1 ? l : ch;
};
/** Title case differs from upper case only for the Latin digraphs (ǆ → ǅ). */
const titleDigraphs: Record<string, string> = {
  '\u01c4': '\u01c5', '\u01c5': '\u01c5', '\u01c6': '\u01c5',
  '\u01c7': '\u01c8', '\u01c8': '\u01c8', '\u01c9': '\u01c8',
  '\u01ca': '\u01cb', '\u01cb': '\u01cb', '\u01cc': '\u01cb',
  '\u01f1': '\u01f2', '\u01f2': '\u01f2', '\u01f3': '\u01f2',
};
const toTitleRune = (ch: string) => titleDigraphs[ch] ?? toUpperRune(ch);

/** strings.Title: upper-cases the first letter of each word. */
export function goTitle(s: string): string {
  let prev = ' ';
  let out = '';
  const isSeparator = (r: string) => {
    const cp = r.codePointAt(0)!;
    if (cp <= 0x7f) return !/[0-9a-zA-Z_]/.test(r);
    if (/^[\p{L}\p{Nd}]$/u.test(r)) return false;
    return /^\s$/u.test(r);
  };
  for (const ch of s) {
    out += isSeparator(prev) ? toTitleRune(ch) : ch;
    prev = ch;
  }
  return out;
}

/** strings.Split: an empty separator splits into runes; an empty string gives [""]. */
export function goSplit(s: string, sep: string): string[] {
  if (sep === '') return [...s];
  return s.split(sep);
}

/** docker's `join`: strings joined as-is, other elements printed with Go's %v; maps give their sorted values. */
function joinElements(elems: unknown, sep: string): string {
  if (isZero(elems)) return '';
  const k = kindOf(elems);
  if (k === 'slice') return Array.from(elems as ArrayLike<unknown>, (e) => (typeof e === 'string' ? e : formatV(e ?? null))).join(sep);
  if (k === 'map')
    return mapEntries(elems as object)
      .map(([, v]) => (typeof v === 'string' ? v : formatV(v ?? null)))
      .sort()
      .join(sep);
  throw new Error(`expected slice, got ${goTypeName(elems)}`);
}

function truncateBytes(s: string, n: number): string {
  const b = utf8(s);
  if (b.length < n) return s;
  if (n < 0) throw new Error(`runtime error: slice bounds out of range [:${n}]`);
  return b.subarray(0, n).toString('utf8');
}

function callFn(fn: unknown, ...args: unknown[]): unknown {
  if (isZero(fn)) throw new Error('call of nil');
  if (typeof fn !== 'function') throw new Error(`non-function of type ${goTypeName(fn)}`);
  return (fn as (...a: unknown[]) => unknown)(...args);
}

/** Go's builtin template functions. */
export const builtinFuncs: Record<string, FuncSpec> = {
  and: spec(['value'], () => undefined, 'value'), // evaluated specially (short-circuit)
  or: spec(['value'], () => undefined, 'value'),
  not: spec(['value'], ((v: unknown) => !isTrue(v)) as FuncSpec['fn']),
  len: spec(['value'], length as FuncSpec['fn']),
  index: spec(['value'], index as FuncSpec['fn'], 'value'),
  slice: spec(['value'], slice as FuncSpec['fn'], 'value'),
  call: spec(['value'], callFn as FuncSpec['fn'], 'value'),
  print: spec([], sprint as FuncSpec['fn'], 'any'),
  printf: spec(['string'], sprintf as FuncSpec['fn'], 'any'),
  println: spec([], sprintln as FuncSpec['fn'], 'any'),
  html: spec([], ((...a: unknown[]) => htmlEscape(evalArgs(a))) as FuncSpec['fn'], 'any'),
  js: spec([], ((...a: unknown[]) => jsEscape(evalArgs(a))) as FuncSpec['fn'], 'any'),
  urlquery: spec([], ((...a: unknown[]) => queryEscape(evalArgs(a))) as FuncSpec['fn'], 'any'),
  eq: spec(['value'], eq as FuncSpec['fn'], 'value'),
  ne: spec(['value', 'value'], ((a: unknown, b: unknown) => !eq(a, b)) as FuncSpec['fn']),
  lt: spec(['value', 'value'], lt as FuncSpec['fn']),
  le: spec(['value', 'value'], ((a: unknown, b: unknown) => lt(a, b) || eq(a, b)) as FuncSpec['fn']),
  gt: spec(['value', 'value'], ((a: unknown, b: unknown) => !lt(a, b) && !eq(a, b)) as FuncSpec['fn']),
  ge: spec(['value', 'value'], ((a: unknown, b: unknown) => !lt(a, b)) as FuncSpec['fn']),
};

/** The docker CLI's template functions (cli/templates). */
export const dockerFuncs: Record<string, FuncSpec> = {
  json: spec(['any'], ((v: unknown) => goJSON(v)) as FuncSpec['fn']),
  split: spec(['string', 'string'], goSplit as FuncSpec['fn']),
  join: spec(['value', 'string'], joinElements as FuncSpec['fn']),
  title: spec(['string'], goTitle as FuncSpec['fn']),
  lower: spec(['string'], ((s: string) => [...s].map(toLowerRune).join('')) as FuncSpec['fn']),
  upper: spec(['string'], ((s: string) => [...s].map(toUpperRune).join('')) as FuncSpec['fn']),
  pad: spec(['string', 'int', 'int'], ((s: string, pre: number, post: number) => {
    if (s === '') return s;
    if (pre < 0 || post < 0) throw new Error('strings: negative Repeat count');
    return ' '.repeat(pre) + s + ' '.repeat(post);
  }) as FuncSpec['fn']),
  truncate: spec(['string', 'int'], truncateBytes as FuncSpec['fn']),
};

/** docker's HeaderFunctions: replacements used when rendering a table header, which leave the header text intact. */
export const headerFuncs: Record<string, FuncSpec> = {
  json: spec(['string'], ((v: string) => v) as FuncSpec['fn']),
  split: spec(['string', 'string'], ((v: string) => v) as FuncSpec['fn']),
  join: spec(['string', 'string'], ((v: string) => v) as FuncSpec['fn']),
  title: spec(['string'], ((v: string) => v) as FuncSpec['fn']),
  lower: spec(['string'], ((v: string) => v) as FuncSpec['fn']),
  upper: spec(['string'], ((v: string) => v) as FuncSpec['fn']),
  truncate: spec(['string', 'int'], ((v: string) => v) as FuncSpec['fn']),
};

// ---------------------------------------------------------------------------------------------------------------
// Lexer

type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'complex'
  | 'assign'
  | 'declare'
  | 'EOF'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  // keywords
  | 'block'
  | 'break'
  | 'continue'
  | 'dot'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'nil'
  | 'range'
  | 'template'
  | 'with';

const keywords: Record<string, ItemType> = {
  block: 'block',
  break: 'break',
  continue: 'continue',
  define: 'define',
  else: 'else',
  end: 'end',
  if: 'if',
  range: 'range',
  nil: 'nil',
  template: 'template',
  with: 'with',
};
const keywordTypes = new Set<ItemType>(['block', 'break', 'continue', 'dot', 'define', 'else', 'end', 'if', 'nil', 'range', 'template', 'with']);

interface Item {
  type: ItemType;
  pos: number; // UTF-16 offset into the template text
  val: string;
  line: number;
}

function itemString(i: Item): string {
  if (i.type === 'EOF') return 'EOF';
  if (i.type === 'error') return i.val;
  if (keywordTypes.has(i.type)) return `<${i.val}>`;
  if (utf8(i.val).length > 10) return `${quote([...i.val].slice(0, 10).join(''))}...`;
  return quote(i.val);
}

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const alnumRe = /^[\p{L}\p{Nd}_]$/u;
const isAlphaNumeric = (c: string | undefined) => c !== undefined && alnumRe.test(c);
const LEFT = '{{';
const RIGHT = '}}';

function hasLeftTrimMarker(s: string, at: number): boolean {
  return s[at] === '-' && isSpace(s[at + 1]);
}
function hasRightTrimMarker(s: string, at: number): boolean {
  return isSpace(s[at]) && s[at + 1] === '-';
}
function leftTrimLength(s: string, at: number): number {
  let i = at;
  while (isSpace(s[i])) i++;
  return i - at;
}

type LexState = ((l: Lexer) => LexState) | null;

class Lexer {
  readonly items: Item[] = [];
  pos = 0;
  start = 0;
  parenDepth = 0;
  private lineStarts: number[] = [];

  constructor(readonly input: string) {
    for (let i = 0; i < input.length; i++) if (input[i] === '\n') this.lineStarts.push(i);
    let state: LexState = lexText;
    while (state) state = state(this);
  }

  lineAt(pos: number): number {
    // 1 + number of newlines before pos
    let lo = 0;
    let hi = this.lineStarts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lineStarts[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  /** The next rune, or undefined at the end. */
  next(): string | undefined {
    if (this.pos >= this.input.length) {
      this.pos = this.input.length + 1; // so backup() after EOF is a no-op
      return undefined;
    }
    const cp = this.input.codePointAt(this.pos)!;
    const ch = String.fromCodePoint(cp);
    this.pos += ch.length;
    return ch;
  }
  backup(ch: string | undefined): void {
    if (ch === undefined) this.pos = this.input.length;
    else this.pos -= ch.length;
  }
  peek(): string | undefined {
    const ch = this.next();
    this.backup(ch);
    return ch;
  }
  accept(valid: string): boolean {
    const ch = this.next();
    if (ch !== undefined && valid.includes(ch)) return true;
    this.backup(ch);
    return false;
  }
  acceptRun(valid: string): void {
    for (;;) {
      const ch = this.next();
      if (ch === undefined || !valid.includes(ch)) {
        this.backup(ch);
        return;
      }
    }
  }
  emit(type: ItemType): void {
    this.items.push({ type, pos: this.start, val: this.input.slice(this.start, this.pos), line: this.lineAt(this.start) });
    this.start = this.pos;
  }
  ignore(): void {
    this.start = this.pos;
  }
  errorf(msg: string): LexState {
    this.items.push({ type: 'error', pos: this.start, val: msg, line: this.lineAt(this.start) });
    return null;
  }
  atRightDelim(): { delim: boolean; trim: boolean } {
    if (hasRightTrimMarker(this.input, this.pos) && this.input.startsWith(RIGHT, this.pos + 2)) return { delim: true, trim: true };
    if (this.input.startsWith(RIGHT, this.pos)) return { delim: true, trim: false };
    return { delim: false, trim: false };
  }
  atTerminator(): boolean {
    const r = this.peek();
    if (r === undefined || isSpace(r)) return true;
    if ('.,|:)('.includes(r)) return true;
    return this.input.startsWith(RIGHT, this.pos);
  }
  scanNumber(): boolean {
    this.accept('+-');
    let digits = '0123456789_';
    if (this.accept('0')) {
      if (this.accept('xX')) digits = '0123456789abcdefABCDEF_';
      else if (this.accept('oO')) digits = '01234567_';
      else if (this.accept('bB')) digits = '01_';
    }
    this.acceptRun(digits);
    if (this.accept('.')) this.acceptRun(digits);
    if (digits.length === 11 && this.accept('eE')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    if (digits.length === 23 && this.accept('pP')) {
      this.accept('+-');
      this.acceptRun('0123456789_');
    }
    this.accept('i');
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }
}

function lexText(l: Lexer): LexState {
  const x = l.input.indexOf(LEFT, l.pos);
  if (x >= 0) {
    let end = x;
    if (hasLeftTrimMarker(l.input, x + LEFT.length)) {
      while (end > l.start && isSpace(l.input[end - 1])) end--;
    }
    l.pos = end;
    if (l.pos > l.start) l.emit('text');
    l.pos = x;
    l.ignore();
    return lexLeftDelim;
  }
  l.pos = l.input.length;
  if (l.pos > l.start) l.emit('text');
  l.emit('EOF');
  return null;
}

function lexLeftDelim(l: Lexer): LexState {
  l.pos += LEFT.length;
  const trim = hasLeftTrimMarker(l.input, l.pos);
  const afterMarker = trim ? 2 : 0;
  if (l.input.startsWith('/*', l.pos + afterMarker)) {
    l.pos += afterMarker;
    l.ignore();
    return lexComment;
  }
  l.emit('leftDelim');
  l.pos += afterMarker;
  l.ignore();
  l.parenDepth = 0;
  return lexInsideAction;
}

function lexComment(l: Lexer): LexState {
  l.pos += 2;
  const i = l.input.indexOf('*/', l.pos);
  if (i < 0) return l.errorf('unclosed comment');
  l.pos = i + 2;
  const { delim, trim } = l.atRightDelim();
  if (!delim) return l.errorf('comment ends before closing delimiter');
  if (trim) l.pos += 2;
  l.pos += RIGHT.length;
  if (trim) l.pos += leftTrimLength(l.input, l.pos);
  l.ignore();
  return lexText;
}

function lexRightDelim(l: Lexer): LexState {
  const trim = hasRightTrimMarker(l.input, l.pos);
  if (trim) {
    l.pos += 2;
    l.ignore();
  }
  l.pos += RIGHT.length;
  l.emit('rightDelim');
  if (trim) {
    l.pos += leftTrimLength(l.input, l.pos);
    l.ignore();
  }
  return lexText;
}

function lexInsideAction(l: Lexer): LexState {
  const { delim } = l.atRightDelim();
  if (delim) {
    if (l.parenDepth === 0) return lexRightDelim;
    return l.errorf('unclosed left paren');
  }
  const r = l.next();
  if (r === undefined) return l.errorf('unclosed action');
  if (isSpace(r)) {
    l.backup(r);
    return lexSpace;
  }
  switch (r) {
    case '=':
      l.emit('assign');
      return lexInsideAction;
    case ':':
      if (l.next() !== '=') return l.errorf('expected :=');
      l.emit('declare');
      return lexInsideAction;
    case '|':
      l.emit('pipe');
      return lexInsideAction;
    case '"':
      return lexQuote;
    case '`':
      return lexRawQuote;
    case '$':
      return lexVariable;
    case "'":
      return lexChar;
    case '(':
      l.emit('leftParen');
      l.parenDepth++;
      return lexInsideAction;
    case ')':
      l.parenDepth--;
      if (l.parenDepth < 0) return l.errorf('unexpected right paren');
      l.emit('rightParen');
      return lexInsideAction;
  }
  if (r === '.') {
    const c = l.input[l.pos];
    if (l.pos < l.input.length && (c! < '0' || c! > '9')) return lexField;
  }
  if (r === '.' || r === '+' || r === '-' || (r >= '0' && r <= '9')) {
    l.backup(r);
    return lexNumber;
  }
  if (isAlphaNumeric(r)) {
    l.backup(r);
    return lexIdentifier;
  }
  if (r.codePointAt(0)! <= 0x7f && r >= ' ' && r <= '~') {
    l.emit('char');
    return lexInsideAction;
  }
  return l.errorf(`unrecognized character in action: ${describeRune(r)}`);
}

function lexSpace(l: Lexer): LexState {
  let numSpaces = 0;
  while (isSpace(l.peek())) {
    l.next();
    numSpaces++;
  }
  if (hasRightTrimMarker(l.input, l.pos - 1) && l.input.startsWith(RIGHT, l.pos - 1 + 2)) {
    l.pos--; // before the space
    if (numSpaces === 1) return lexRightDelim;
  }
  l.emit('space');
  return lexInsideAction;
}

function lexIdentifier(l: Lexer): LexState {
  for (;;) {
    const r = l.next();
    if (isAlphaNumeric(r)) continue;
    l.backup(r);
    const word = l.input.slice(l.start, l.pos);
    if (!l.atTerminator()) return l.errorf(`bad character ${describeRune(r!)}`);
    const kw = keywords[word];
    if (kw) l.emit(kw);
    else if (word === 'true' || word === 'false') l.emit('bool');
    else l.emit('identifier');
    return lexInsideAction;
  }
}

function lexField(l: Lexer): LexState {
  return lexFieldOrVariable(l, 'field');
}

function lexVariable(l: Lexer): LexState {
  if (l.atTerminator()) {
    l.emit('variable');
    return lexInsideAction;
  }
  return lexFieldOrVariable(l, 'variable');
}

function lexFieldOrVariable(l: Lexer, type: 'field' | 'variable'): LexState {
  if (l.atTerminator()) {
    l.emit(type === 'variable' ? 'variable' : 'dot');
    return lexInsideAction;
  }
  let r: string | undefined;
  for (;;) {
    r = l.next();
    if (!isAlphaNumeric(r)) {
      l.backup(r);
      break;
    }
  }
  if (!l.atTerminator()) return l.errorf(`bad character ${describeRune(r!)}`);
  l.emit(type);
  return lexInsideAction;
}

function lexChar(l: Lexer): LexState {
  for (;;) {
    let r = l.next();
    if (r === '\\') {
      r = l.next();
      if (r !== undefined && r !== '\n') continue;
    }
    if (r === undefined || r === '\n') return l.errorf('unterminated character constant');
    if (r === "'") break;
  }
  l.emit('charConstant');
  return lexInsideAction;
}

function lexNumber(l: Lexer): LexState {
  if (!l.scanNumber()) return l.errorf(`bad number syntax: ${quote(l.input.slice(l.start, l.pos))}`);
  const sign = l.peek();
  if (sign === '+' || sign === '-') {
    if (!l.scanNumber() || l.input[l.pos - 1] !== 'i') return l.errorf(`bad number syntax: ${quote(l.input.slice(l.start, l.pos))}`);
    l.emit('complex');
  } else l.emit('number');
  return lexInsideAction;
}

function lexQuote(l: Lexer): LexState {
  for (;;) {
    let r = l.next();
    if (r === '\\') {
      r = l.next();
      if (r !== undefined && r !== '\n') continue;
    }
    if (r === undefined || r === '\n') return l.errorf('unterminated quoted string');
    if (r === '"') break;
  }
  l.emit('string');
  return lexInsideAction;
}

function lexRawQuote(l: Lexer): LexState {
  for (;;) {
    const r = l.next();
    if (r === undefined) return l.errorf('unterminated raw quoted string');
    if (r === '`') break;
  }
  l.emit('rawString');
  return lexInsideAction;
}

// ---------------------------------------------------------------------------------------------------------------
// Parse tree

interface TextNode {
  type: 'text';
  pos: number;
  text: string;
}
interface ActionNode {
  type: 'action';
  pos: number;
  pipe: PipeNode;
}
interface BranchNode {
  type: 'if' | 'range' | 'with';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}
interface ListNode {
  type: 'list';
  pos: number;
  nodes: Node[];
}
interface SimpleNode {
  type: 'break' | 'continue' | 'end' | 'else' | 'dot' | 'nil';
  pos: number;
}
interface TemplateNode {
  type: 'template';
  pos: number;
  name: string;
  pipe: PipeNode | null;
}
interface PipeNode {
  type: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
interface CommandNode {
  type: 'command';
  pos: number;
  args: Node[];
}
interface FieldNode {
  type: 'field';
  pos: number;
  ident: string[];
}
interface VariableNode {
  type: 'variable';
  pos: number;
  ident: string[];
}
interface ChainNode {
  type: 'chain';
  pos: number;
  node: Node;
  field: string[];
}
interface IdentifierNode {
  type: 'identifier';
  pos: number;
  ident: string;
}
interface BoolNode {
  type: 'bool';
  pos: number;
  value: boolean;
}
interface NumberNode {
  type: 'number';
  pos: number;
  text: string;
  isInt: boolean;
  isFloat: boolean;
  isUint: boolean;
  int: number | bigint;
  float: number;
  /** Written as a float (has . e E p P and is not a hex or char literal). */
  floatSyntax: boolean;
}
interface StringNode {
  type: 'string';
  pos: number;
  quoted: string;
  text: string;
}
type Node =
  | TextNode
  | ActionNode
  | BranchNode
  | ListNode
  | SimpleNode
  | TemplateNode
  | PipeNode
  | CommandNode
  | FieldNode
  | VariableNode
  | ChainNode
  | IdentifierNode
  | BoolNode
  | NumberNode
  | StringNode;

function nodeString(n: Node): string {
  switch (n.type) {
    case 'text':
      return n.text;
    case 'action':
      return `{{${nodeString(n.pipe)}}}`;
    case 'if':
    case 'range':
    case 'with': {
      let s = `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}`;
      if (n.elseList) s += `{{else}}${nodeString(n.elseList)}`;
      return `${s}{{end}}`;
    }
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'break':
    case 'continue':
    case 'end':
    case 'else':
      return `{{${n.type}}}`;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'template':
      return n.pipe ? `{{template ${quote(n.name)} ${nodeString(n.pipe)}}}` : `{{template ${quote(n.name)}}}`;
    case 'pipe': {
      let s = '';
      if (n.decl.length > 0) s = `${n.decl.map(nodeString).join(', ')} := `;
      return s + n.cmds.map(nodeString).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'field':
      return `.${n.ident.join('.')}`;
    case 'variable':
      return n.ident.join('.');
    case 'chain':
      return (n.node.type === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node)) + n.field.map((f) => `.${f}`).join('');
    case 'identifier':
      return n.ident;
    case 'bool':
      return n.value ? 'true' : 'false';
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
  }
}

/** strconv.Unquote for "…", `…` and '…' literals. */
function unquote(s: string): string {
  const q = s[0];
  if (s.length < 2 || s[s.length - 1] !== q) throw new Error('invalid syntax');
  const body = s.slice(1, -1);
  if (q === '`') {
    if (body.includes('`')) throw new Error('invalid syntax');
    return body.replace(/\r/g, '');
  }
  let out = '';
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === q || c === '\n') throw new Error('invalid syntax');
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (e !== undefined && simple[e] !== undefined) {
      out += simple[e];
      continue;
    }
    if (e === q) {
      out += e;
      continue;
    }
    const hexLen = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLen > 0) {
      const h = body.slice(i, i + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(h)) throw new Error('invalid syntax');
      const v = parseInt(h, 16);
      i += hexLen;
      if (e === 'x') {
        if (q === "'" || v < 0x80) out += String.fromCharCode(v);
        else out += '\ufffd'; // a lone byte is not valid UTF-8 text
      } else {
        if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new Error('invalid syntax');
        out += String.fromCodePoint(v);
      }
      continue;
    }
    if (e !== undefined && e >= '0' && e <= '7') {
      const o = body.slice(i - 1, i + 2);
      if (!/^[0-7]{3}$/.test(o)) throw new Error('invalid syntax');
      const v = parseInt(o, 8);
      if (v > 255) throw new Error('invalid syntax');
      out += v < 0x80 || q === "'" ? String.fromCharCode(v) : '\ufffd';
      i += 2;
      continue;
    }
    throw new Error('invalid syntax');
  }
  return out;
}

/** Go's rule for underscores in number literals: only between digits, or after a base prefix. */
function underscoreOK(text: string): boolean {
  let s = text;
  if (s[0] === '+' || s[0] === '-') s = s.slice(1);
  let saw = '^';
  let i = 0;
  let hexDigits = false;
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1]!)) {
    i = 2;
    saw = '0';
    hexDigits = s[1] === 'x' || s[1] === 'X';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hexDigits && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

/** strconv.ParseInt(text, 0, 64) without the range check. */
function parseGoInt(text: string): bigint | undefined {
  if (text.includes('_') && !underscoreOK(text)) return undefined;
  let s = text.replace(/_/g, '');
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  let base: 2 | 8 | 10 | 16 = 10;
  let digits = s;
  if (/^0[xX]/.test(s)) [base, digits] = [16, s.slice(2)];
  else if (/^0[oO]/.test(s)) [base, digits] = [8, s.slice(2)];
  else if (/^0[bB]/.test(s)) [base, digits] = [2, s.slice(2)];
  else if (/^0./.test(s)) [base, digits] = [8, s.slice(1)];
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[base];
  if (!valid.test(digits)) return undefined;
  const v = BigInt({ 2: '0b', 8: '0o', 10: '', 16: '0x' }[base] + digits);
  return neg ? -v : v;
}

function parseGoFloat(text: string): number | undefined {
  if (text.includes('_') && !underscoreOK(text)) return undefined;
  let s = text.replace(/_/g, '');
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$/.exec(s);
  if (m && (m[2] || m[3])) {
    s = `${m[2]}${m[3]}`;
    const mant = parseInt(s || '0', 16);
    const v = mant * 2 ** (Number(m[4]) - 4 * m[3]!.length);
    return m[1] === '-' ? -v : v;
  }
  return undefined;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function newNumber(pos: number, text: string, type: ItemType): NumberNode {
  const n: NumberNode = { type: 'number', pos, text, isInt: false, isFloat: false, isUint: false, int: 0, float: 0, floatSyntax: false };
  if (type === 'charConstant') {
    const s = unquote(text);
    if ([...s].length !== 1) throw new Error(`malformed character constant: ${text}`);
    const cp = s.codePointAt(0)!;
    Object.assign(n, { isInt: true, isUint: true, isFloat: true, int: cp, float: cp });
    return n;
  }
  if (type === 'complex' || text.endsWith('i')) throw new Error(`complex numbers are not supported: ${quote(text)}`);
  const iv = parseGoInt(text);
  if (iv !== undefined) {
    if (iv >= 0n && iv <= UINT64_MAX) n.isUint = true;
    if (iv >= INT64_MIN && iv <= INT64_MAX) {
      n.isInt = true;
      n.int = iv >= BigInt(Number.MIN_SAFE_INTEGER) && iv <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(iv) : iv;
    }
    if (n.isInt || n.isUint) {
      n.isFloat = true;
      n.float = Number(iv);
    }
  }
  if (!n.isInt && !n.isUint) {
    const f = parseGoFloat(text);
    if (f !== undefined) {
      if (!/[.eEpP]/.test(text)) throw new Error(`integer overflow: ${quote(text)}`);
      n.isFloat = true;
      n.float = f;
      if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
        n.isInt = true;
        n.int = Number.isSafeInteger(f) ? f : BigInt(f);
      }
    }
  }
  if (!n.isInt && !n.isUint && !n.isFloat) throw new Error(`illegal number syntax: ${quote(text)}`);
  const hexInt = text.length > 2 && text[0] === '0' && (text[1] === 'x' || text[1] === 'X') && !/[pP]/.test(text);
  n.floatSyntax = n.isFloat && !hexInt && text[0] !== "'" && /[.eEpP]/.test(text);
  return n;
}

class Parser {
  private items: Item[];
  private i = 0;
  private maxFetched = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;

  constructor(
    private readonly name: string,
    lex: Lexer,
    private readonly funcs: (name: string) => boolean,
    private readonly treeSet: Map<string, ListNode>,
  ) {
    this.items = lex.items;
  }

  private next(): Item {
    const it = this.items[Math.min(this.i, this.items.length - 1)]!;
    this.i++;
    this.maxFetched = Math.max(this.maxFetched, Math.min(this.i, this.items.length) - 1);
    return it;
  }
  private backup(n = 1): void {
    this.i -= n;
  }
  private peek(): Item {
    const it = this.next();
    this.backup();
    return it;
  }
  private nextNonSpace(): Item {
    let it: Item;
    do it = this.next();
    while (it.type === 'space');
    return it;
  }
  /** Like Go's: skips (consumes) spaces, then backs up one token. */
  private peekNonSpace(): Item {
    const it = this.nextNonSpace();
    this.backup();
    return it;
  }
  /** Moves back to just before the given item (which was read earlier). */
  private backupTo(item: Item): void {
    this.i = this.items.indexOf(item);
  }

  errorf(msg: string): never {
    const line = this.items[this.maxFetched]?.line ?? 1;
    throw new ParseFailure(`template: ${this.name}:${line}: ${msg}`);
  }

  private unexpected(token: Item, context: string): never {
    if (token.type === 'error') {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at ${this.name}:${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(`${token.val}${extra}`);
    }
    this.errorf(`unexpected ${itemString(token)} in ${context}`);
  }

  private expect(type: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.type !== type) this.unexpected(token, context);
    return token;
  }

  parse(): ListNode {
    const root: ListNode = { type: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'EOF') {
      if (this.peek().type === 'leftDelim') {
        const delim = this.next();
        if (this.nextNonSpace().type === 'define') {
          this.parseDefinition();
          continue;
        }
        this.backupTo(delim);
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  private parseDefinition(): void {
    const context = 'define clause';
    const token = this.nextNonSpace();
    if (token.type !== 'string' && token.type !== 'rawString') this.unexpected(token, context);
    let name: string;
    try {
      name = unquote(token.val);
    } catch (e) {
      this.errorf((e as Error).message);
    }
    this.expect('rightDelim', context);
    const savedVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    this.vars = savedVars;
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.addTree(name, list);
  }

  private addTree(name: string, list: ListNode): void {
    const existing = this.treeSet.get(name);
    if (existing && !isEmptyTree(existing) && !isEmptyTree(list)) this.errorf(`template: multiple definition of template ${quote(name)}`);
    if (!existing || isEmptyTree(existing)) this.treeSet.set(name, list);
  }

  private itemList(): [ListNode, Node] {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'EOF') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'text':
        return { type: 'text', pos: token.pos, text: token.val };
      case 'leftDelim': {
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      default:
        this.unexpected(token, 'input');
    }
  }

  private action(): Node {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'block':
        return this.blockControl();
      case 'break':
      case 'continue':
        return this.branchKeyword(token);
      case 'else':
        return this.elseControl();
      case 'end':
        return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
      case 'if':
        return this.control('if');
      case 'range':
        return this.control('range');
      case 'template':
        return this.templateControl();
      case 'with':
        return this.control('with');
      default:
        break;
    }
    this.backup();
    const pos = this.peek().pos;
    return { type: 'action', pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private branchKeyword(token: Item): Node {
    const kw = token.type as 'break' | 'continue';
    const next = this.nextNonSpace();
    if (next.type !== 'rightDelim') this.unexpected(next, `{{${kw}}}`);
    if (this.rangeDepth === 0) this.errorf(`{{${kw}}} outside {{range}}`);
    return { type: kw, pos: token.pos };
  }

  private elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.type === 'if' || peek.type === 'with') return { type: 'else', pos: peek.pos };
    const token = this.expect('rightDelim', 'else');
    return { type: 'else', pos: token.pos };
  }

  private control(context: 'if' | 'range' | 'with'): BranchNode {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'rightDelim');
      if (context === 'range') this.rangeDepth++;
      let [list, next] = this.itemList();
      if (context === 'range') this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (next.type === 'else') {
        const peek = this.peek();
        if ((context === 'if' && peek.type === 'if') || (context === 'with' && peek.type === 'with')) {
          this.next();
          elseList = { type: 'list', pos: next.pos, nodes: [this.control(context)] };
        } else {
          [elseList, next] = this.itemList();
          if (next.type !== 'end') this.errorf(`expected end; found ${nodeString(next)}`);
        }
      }
      return { type: context, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = mark;
    }
  }

  private parseTemplateName(token: Item, context: string): string {
    if (token.type !== 'string' && token.type !== 'rawString') this.unexpected(token, context);
    try {
      return unquote(token.val);
    } catch (e) {
      this.errorf((e as Error).message);
    }
  }

  private templateControl(): Node {
    const context = 'template clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().type !== 'rightDelim') {
      this.backup();
      pipe = this.pipeline(context, 'rightDelim');
    }
    return { type: 'template', pos: token.pos, name, pipe };
  }

  private blockControl(): Node {
    const context = 'block clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    const pipe = this.pipeline(context, 'rightDelim');
    const savedVars = this.vars;
    this.vars = ['$'];
    const [list, end] = this.itemList();
    this.vars = savedVars;
    if (end.type !== 'end') this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.addTree(name, list);
    return { type: 'template', pos: token.pos, name, pipe };
  }

  private pipeline(context: string, end: ItemType): PipeNode {
    const token = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', pos: token.pos, isAssign: false, decl: [], cmds: [] };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      const before = this.i;
      this.nextNonSpace();
      const next = this.peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
      } else if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const p = this.peekNonSpace().type;
          if (p === 'variable' || p === 'rightDelim' || p === 'rightParen') continue decls;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      } else {
        this.i = before; // an operand, not a declaration
      }
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      if (token.type === end) {
        this.checkPipeline(pipe, context);
        return pipe;
      }
      switch (token.type) {
        case 'bool':
        case 'charConstant':
        case 'complex':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const t = c.args[0]!.type;
      if (t === 'bool' || t === 'dot' || t === 'nil' || t === 'number' || t === 'string') {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const token = this.next();
      if (token.type === 'space') continue;
      if (token.type === 'rightDelim' || token.type === 'rightParen') this.backup();
      else if (token.type !== 'pipe') this.unexpected(token, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): Node | null {
    let node = this.term();
    if (!node) return null;
    if (this.peek().type === 'field') {
      const pos = this.peek().pos;
      const fields: string[] = [];
      while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
      switch (node.type) {
        case 'field':
          node = { type: 'field', pos, ident: [...node.ident, ...fields] };
          break;
        case 'variable':
          node = { type: 'variable', pos, ident: [...node.ident, ...fields] };
          break;
        case 'bool':
        case 'string':
        case 'number':
        case 'nil':
        case 'dot':
          this.errorf(`unexpected . after term ${quote(nodeString(node))}`);
          break;
        default:
          node = { type: 'chain', pos, node, field: fields };
      }
    }
    return node;
  }

  private term(): Node | null {
    const token = this.nextNonSpace();
    switch (token.type) {
      case 'identifier':
        if (!this.funcs(token.val)) this.errorf(`function ${quote(token.val)} not defined`);
        return { type: 'identifier', pos: token.pos, ident: token.val };
      case 'dot':
        return { type: 'dot', pos: token.pos };
      case 'nil':
        return { type: 'nil', pos: token.pos };
      case 'variable':
        return this.useVar(token.pos, token.val);
      case 'field':
        return { type: 'field', pos: token.pos, ident: token.val.slice(1).split('.') };
      case 'bool':
        return { type: 'bool', pos: token.pos, value: token.val === 'true' };
      case 'charConstant':
      case 'complex':
      case 'number':
        try {
          return newNumber(token.pos, token.val, token.type);
        } catch (e) {
          this.errorf((e as Error).message);
        }
        break;
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        try {
          return { type: 'string', pos: token.pos, quoted: token.val, text: unquote(token.val) };
        } catch (e) {
          this.errorf((e as Error).message);
        }
        break;
      default:
        break;
    }
    this.backup();
    return null;
  }

  private useVar(pos: number, name: string): VariableNode {
    const ident = name.split('.');
    if (!this.vars.includes(ident[0]!)) this.errorf(`undefined variable ${quote(ident[0]!)}`);
    return { type: 'variable', pos, ident };
  }
}

function isEmptyTree(n: Node): boolean {
  switch (n.type) {
    case 'list':
      return n.nodes.every(isEmptyTree);
    case 'text':
      return n.text.trim() === '';
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Execution

const MISSING = Symbol('missing');
type Final = unknown | typeof MISSING;

interface Variable {
  name: string;
  value: unknown;
}

/** Looks a field up on an object: own properties, then its class's (not Object.prototype's). */
function lookupProperty(obj: object, name: string): { found: boolean; value: unknown } {
  if (Object.hasOwn(obj, name)) return { found: true, value: (obj as Record<string, unknown>)[name] };
  if (name === 'constructor') return { found: false, value: undefined };
  for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, name)) return { found: true, value: (obj as Record<string, unknown>)[name] };
  }
  return { found: false, value: undefined };
}

class ExecState {
  vars: Variable[];
  node: Node | null = null;
  out: string[] = [];
  depth = 0;

  constructor(
    private readonly tmpl: Template,
    private readonly funcs: (name: string) => FuncSpec | undefined,
    dot: unknown,
    private readonly missingKey: MissingKey = 'default',
  ) {
    this.vars = [{ name: '$', value: dot }];
  }

  at(n: Node): void {
    this.node = n;
  }

  errorf(msg: string): never {
    const name = this.tmpl.name;
    if (!this.node) throw new ExecFailure(`template: ${name}: ${msg}`);
    const location = this.tmpl.errorLocation(this.node.pos);
    throw new ExecFailure(`template: ${location}: executing ${quote(name)} at <${nodeString(this.node)}>: ${msg}`);
  }

  private push(name: string, value: unknown): void {
    this.vars.push({ name, value });
  }
  private mark(): number {
    return this.vars.length;
  }
  private pop(mark: number): void {
    this.vars.length = mark;
  }
  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  private setTopVar(n: number, value: unknown): void {
    this.vars[this.vars.length - n]!.value = value;
  }
  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.errorf(`undefined variable: ${name}`);
  }

  walk(dot: unknown, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'action': {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'break':
        throw breakSignal;
      case 'continue':
        throw continueSignal;
      case 'if':
      case 'with':
        return this.walkIfOrWith(node, dot);
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        return this.walkRange(dot, node);
      case 'template':
        return this.walkTemplate(dot, node);
      case 'text':
        this.out.push(node.text);
        return;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  private walkIfOrWith(node: BranchNode, dot: unknown): void {
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (isTrue(val)) this.walk(node.type === 'with' ? val : dot, node.list);
      else if (node.elseList) this.walk(dot, node.elseList);
    } finally {
      this.pop(mark);
    }
  }

  private walkRange(dot: unknown, r: BranchNode): void {
    this.at(r);
    const mark0 = this.mark();
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const mark = this.mark();
      const oneIteration = (key: unknown, elem: unknown): boolean => {
        if (r.pipe.decl.length > 0) this.setTopVar(1, elem);
        if (r.pipe.decl.length > 1) this.setTopVar(2, key);
        try {
          this.walk(elem, r.list);
        } catch (e) {
          if (e === breakSignal) return false;
          if (e !== continueSignal) throw e;
        } finally {
          this.pop(mark);
        }
        return true;
      };
      const k = kindOf(val);
      if (k === 'slice') {
        const arr = Array.from(val as ArrayLike<unknown>);
        if (arr.length > 0) {
          for (let i = 0; i < arr.length; i++) if (!oneIteration(i, arr[i] ?? null)) break;
          return;
        }
      } else if (k === 'map') {
        const entries = mapEntries(val as object);
        if (entries.length > 0) {
          for (const [key, v] of entries) if (!oneIteration(key, v)) break;
          return;
        }
      } else if (k === 'int') {
        if (r.pipe.decl.length > 1) this.errorf(`can't use ${formatV(val)} to iterate over more than one variable`);
        const n = Number(val);
        if (n > 0) {
          for (let i = 0; i < n; i++) if (!oneIteration(i, i)) break;
          return;
        }
      } else if (k !== 'invalid' && k !== 'nil') {
        this.errorf(`range can't iterate over ${formatV(val)}`);
      }
      if (r.elseList) this.walk(dot, r.elseList);
    } finally {
      this.pop(mark0);
    }
  }

  private walkTemplate(dot: unknown, t: TemplateNode): void {
    this.at(t);
    const tree = this.tmpl.lookup(t.name);
    if (!tree) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth >= 10000) this.errorf(`exceeded maximum template depth (10000)`);
    const newDot = t.pipe ? this.evalPipeline(dot, t.pipe) : undefined;
    const saved = this.vars;
    this.vars = [{ name: '$', value: newDot }];
    this.depth++;
    try {
      this.walk(newDot, tree);
    } finally {
      this.depth--;
      this.vars = saved;
    }
  }

  evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // Go digs into interface{} values: a nil one becomes "no value"
      if (value === null) value = undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0]!, value);
      else this.push(v.ident[0]!, value);
    }
    return value;
  }

  private notAFunction(args: Node[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        this.at(first);
        return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
      default:
        break;
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        this.errorf('nil is not a command');
        break;
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
      default:
        break;
    }
    this.errorf(`can't evaluate command ${quote(nodeString(first))}`);
  }

  private idealConstant(n: NumberNode): unknown {
    this.at(n);
    if (n.floatSyntax) return Number.isInteger(n.float) ? new GoFloat(n.float) : n.float;
    if (n.isInt) return n.int;
    if (n.isUint) this.errorf(`${n.text} overflows int`);
    return undefined;
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: Node[], final: Final): unknown {
    this.at(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, 'value', chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  private evalVariableNode(dot: unknown, v: VariableNode, args: Node[] | null, final: Final): unknown {
    this.at(v);
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      if (args) this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: Node, ident: string[], args: Node[] | null, final: Final): unknown {
    for (let i = 0; i < ident.length - 1; i++) receiver = this.evalField(dot, ident[i]!, node, null, MISSING, receiver);
    return this.evalField(dot, ident[ident.length - 1]!, node, args, final, receiver);
  }

  private evalField(dot: unknown, name: string, node: Node, args: Node[] | null, final: Final, receiver: unknown): unknown {
    if (receiver === undefined) {
      if (this.missingKey === 'error') this.errorf(`nil data; no entry for key ${quote(name)}`);
      return undefined;
    }
    if (receiver === null) this.errorf(`nil pointer evaluating interface {}.${name}`);
    if (receiver instanceof GoNil) this.errorf(`nil pointer evaluating ${receiver.type}.${name}`);
    const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
    if (typeof receiver === 'object' && !Array.isArray(receiver) && !ArrayBuffer.isView(receiver)) {
      if (receiver instanceof Map) {
        if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
        if (!receiver.has(name)) return this.missingMapKey(receiver, name);
        return receiver.get(name);
      }
      const { found, value } = lookupProperty(receiver, name);
      if (!found && isPlainObject(receiver)) {
        if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
        return this.missingMapKey(receiver, name);
      }
      if (typeof value === 'function') {
        const method = value as (...a: unknown[]) => unknown;
        const fn = ((...a: unknown[]) => method.apply(receiver, a.map(toJS))) as FuncSpec['fn'];
        // a method declaring parameters takes exactly those, as a Go method does; one declaring none takes any
        const spec: FuncSpec = method.length > 0 ? { params: Array<ParamType>(method.length).fill('any'), fn } : { params: [], variadic: 'any', fn };
        return this.evalCall(dot, spec, false, node, name, args, final);
      }
      if (isPlainObject(receiver) || found) {
        if (hasArgs) this.errorf(`${name} ${isPlainObject(receiver) ? 'is not a method but has arguments' : 'has arguments but cannot be invoked as function'}`);
        return value;
      }
    }
    this.errorf(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }

  /** A field naming no key of a map: no value, the element's zero value, or an error, as the template's missingkey option says. */
  private missingMapKey(m: object, name: string): unknown {
    if (lenientMap in m) return undefined;
    if (this.missingKey === 'error') this.errorf(`map has no entry for key ${quote(name)}`);
    return this.missingKey === 'zero' ? missingMapValue(m) : undefined;
  }

  private evalFunction(dot: unknown, node: IdentifierNode, cmd: Node, args: Node[] | null, final: Final): unknown {
    this.at(node);
    const fn = this.funcs(node.ident);
    if (!fn) this.errorf(`${quote(node.ident)} is not a defined function`);
    return this.evalCall(dot, fn, builtinFuncs[node.ident] === fn, cmd, node.ident, args, final);
  }

  private evalCall(dot: unknown, fn: FuncSpec, isBuiltin: boolean, node: Node, name: string, argNodes: Node[] | null, final: Final): unknown {
    const args = argNodes ? argNodes.slice(1) : [];
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    const numFixed = fn.params.length;
    if (fn.variadic) {
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${numFixed} got ${args.length}`);
    } else if (numIn !== numFixed) {
      this.errorf(`wrong number of args for ${name}: want ${numFixed} got ${numIn}`);
    }
    if (isBuiltin && (name === 'and' || name === 'or')) {
      let v: unknown;
      for (const arg of args) {
        v = this.evalArg(dot, 'value', arg);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: unknown[] = [];
    let i = 0;
    for (; i < numFixed && i < args.length; i++) argv.push(this.evalArg(dot, fn.params[i]!, args[i]!));
    if (fn.variadic) for (; i < args.length; i++) argv.push(this.evalArg(dot, fn.variadic, args[i]!));
    if (final !== MISSING) {
      let t: ParamType;
      if (fn.variadic) t = numIn - 1 < numFixed ? fn.params[numIn - 1]! : fn.variadic;
      else t = fn.params[numFixed - 1]!;
      argv.push(this.validateType(final, t));
    }
    try {
      return (fn.fn as (...a: unknown[]) => unknown)(...argv);
    } catch (e) {
      if (e instanceof ExecFailure || e === breakSignal || e === continueSignal) throw e;
      this.at(node);
      this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private validateType(value: unknown, type: ParamType): unknown {
    if (value === undefined) {
      switch (type) {
        case 'value':
          return undefined;
        case 'any':
        case 'strings':
          return null;
        default:
          this.errorf(`invalid value; expected ${typeNames[type]}`);
      }
    }
    const k = kindOf(value);
    let ok: boolean;
    switch (type) {
      case 'any':
      case 'value':
        ok = true;
        break;
      case 'string':
        ok = k === 'string';
        break;
      case 'int':
        ok = k === 'int';
        break;
      case 'float':
        ok = k === 'int' || k === 'float';
        break;
      case 'bool':
        ok = k === 'bool';
        break;
      case 'strings':
        ok = k === 'slice' || k === 'nil';
        break;
    }
    if (!ok) this.errorf(`wrong type for value; expected ${typeNames[type]}; got ${goTypeName(value)}`);
    if (type === 'int' && typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
      return Number(value);
    }
    return value;
  }

  private evalArg(dot: unknown, type: ParamType, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, type);
      case 'nil':
        if (type === 'any' || type === 'strings') return null;
        if (type === 'value') return undefined;
        this.errorf(`cannot assign nil to ${typeNames[type]}`);
        break;
      case 'field':
        return this.validateType(this.evalFieldChain(dot, dot, n, n.ident, [n], MISSING), type);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, null, MISSING), type);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, null, MISSING), type);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], MISSING), type);
      default:
        break;
    }
    switch (type) {
      case 'bool':
        if (n.type === 'bool') return n.value;
        this.errorf(`expected bool; found ${nodeString(n)}`);
        break;
      case 'float':
        if (n.type === 'number' && n.isFloat) return n.float;
        this.errorf(`expected float; found ${nodeString(n)}`);
        break;
      case 'int':
        if (n.type === 'number' && n.isInt) return typeof n.int === 'bigint' ? Number(n.int) : n.int;
        this.errorf(`expected integer; found ${nodeString(n)}`);
        break;
      case 'string':
        if (n.type === 'string') return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
        break;
      case 'any':
      case 'value':
        switch (n.type) {
          case 'bool':
            return n.value;
          case 'number':
            return this.idealConstant(n);
          case 'string':
            return n.text;
          default:
            break;
        }
        this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
        break;
      default:
        break;
    }
    this.errorf(`can't handle ${nodeString(n)} for arg of type ${typeNames[type]}`);
  }

  private printValue(n: Node, v: unknown): void {
    this.at(n);
    if (v === undefined) {
      this.out.push('<no value>');
      return;
    }
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(n)} of type ${goTypeName(v)}`);
    this.out.push(formatV(v));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Template

export interface TemplateOptions {
  /** The template's name, shown in errors (`template: NAME:1: …`); docker's list formatters use "". */
  name?: string;
  /** Extra functions (or replacements for docker's). */
  funcs?: FuncMap;
}

/** On an object: it stands for a real Go map, whose missing keys give "no value" whatever the missingkey option. */
export const lenientMap: unique symbol = Symbol.for('berth.format.lenientMap');

/** Go's `missingkey` option: what a field naming no key of a map gives. */
export type MissingKey = 'default' | 'zero' | 'error';

export interface ExecuteOptions {
  /** Functions replacing the template's own at execution time (Go's Template.Funcs after Parse). */
  funcs?: FuncMap;
  /** `missingkey=…` (Go's Template.Option): "default" prints `<no value>`, "error" fails, as docker inspect's fallback. */
  missingKey?: MissingKey;
}

export class Template {
  readonly name: string;
  private readonly root: ListNode;
  private readonly trees: Map<string, ListNode>;
  private readonly funcs: Record<string, FuncSpec>;
  private readonly lineStarts: number[] = [];

  /** @internal use parseTemplate */
  constructor(
    private readonly text: string,
    opts: TemplateOptions = {},
  ) {
    this.name = opts.name ?? '';
    this.funcs = { ...builtinFuncs, ...dockerFuncs };
    for (const [k, f] of Object.entries(opts.funcs ?? {})) this.funcs[k] = toSpec(f);
    this.trees = new Map();
    const lexer = new Lexer(text);
    const parser = new Parser(this.name, lexer, (n) => this.funcs[n] !== undefined, this.trees);
    try {
      this.root = parser.parse();
    } catch (e) {
      if (e instanceof ParseFailure) throw new TemplateError('parse', e.message);
      throw e;
    }
    const existing = this.trees.get(this.name);
    if (!existing || isEmptyTree(existing)) this.trees.set(this.name, this.root);
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.lineStarts.push(i);
  }

  /** `name:line:col` for a position, as Go's ErrorContext computes it (col is a byte offset within the line). */
  errorLocation(pos: number): string {
    let lastNL = -1;
    let line = 1;
    for (const nl of this.lineStarts) {
      if (nl >= pos) break;
      lastNL = nl;
      line++;
    }
    const col = Buffer.byteLength(this.text.slice(lastNL + 1, pos), 'utf8');
    return `${this.name}:${line}:${col}`;
  }

  /** @internal */
  lookup(name: string): ListNode | undefined {
    return this.trees.get(name);
  }

  /** Runs the template on data. Throws TemplateError (kind 'exec', with the output so far in `partial`). */
  execute(data: unknown, opts: ExecuteOptions = {}): string {
    if (data === null) data = undefined; // Go: reflect.ValueOf(nil) is no value at all
    const funcs = opts.funcs ? { ...this.funcs, ...Object.fromEntries(Object.entries(opts.funcs).map(([k, f]) => [k, toSpec(f)])) } : this.funcs;
    const state = new ExecState(this, (n) => funcs[n], data, opts.missingKey);
    try {
      state.walk(data, this.root);
    } catch (e) {
      if (e instanceof ExecFailure) throw new TemplateError('exec', e.message, state.out.join(''));
      throw e;
    }
    return state.out.join('');
  }

  /** Names of the fields the template reads from a value (`.Size` and `$.Size` give "Size"). Like docker's FieldsUsed. */
  fields(): Set<string> {
    const out = new Set<string>();
    const visit = (n: Node | null | undefined): void => {
      if (!n) return;
      switch (n.type) {
        case 'field':
          out.add(n.ident[0]!);
          return;
        case 'variable':
          if (n.ident[0] === '$' && n.ident.length > 1) out.add(n.ident[1]!);
          return;
        case 'chain':
          return visit(n.node);
        case 'action':
          return visit(n.pipe);
        case 'if':
        case 'range':
        case 'with':
          visit(n.pipe);
          visit(n.list);
          return visit(n.elseList);
        case 'list':
          return n.nodes.forEach(visit);
        case 'template':
          return visit(n.pipe);
        case 'pipe':
          return n.cmds.forEach(visit);
        case 'command':
          return n.args.forEach(visit);
        default:
          return;
      }
    };
    for (const tree of this.trees.values()) visit(tree);
    return out;
  }
}

/** Parses a Go text/template with docker's functions. Throws TemplateError (kind 'parse') on bad syntax. */
export function parseTemplate(text: string, opts: TemplateOptions = {}): Template {
  return new Template(text, opts);
}
