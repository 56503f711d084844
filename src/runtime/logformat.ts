// Docker's json-file log format, byte for byte as dockerd's json-file driver writes it:
//   {"log":"<text>","stream":"stdout|stderr","time":"<RFC3339Nano, UTC>"}\n
// The text keeps its "\n" when the line was complete (a partial line has none). Strings are escaped as moby's
// jsonlog encoder does: \" \\ \n \r in short form, other control characters and < > & as \u00XX, invalid UTF-8 as
// \ufffd (one per bad byte), U+2028/U+2029 as escapes; times are Go's RFC3339Nano (trailing zeros trimmed).
//
// Converting conmon's journal and parsing the log back are the hot paths of logging (hundreds of MB for a chatty
// container): both work on whole chunks, and take the slow path (escaping, JSON.parse) only for lines needing it.
import { isAscii } from 'node:buffer';

export type LogStream = 'stdout' | 'stderr';

/** Bytes (read as latin1 characters) a text may not carry as is: controls but "\n", `"`, `\`, <, >, &, non-ASCII. */
const needsEscape = /[\x00-\x09\x0b-\x1f"\\<>&\x80-\xff]/g;
const head = Buffer.from('{"log":"', 'latin1');
/** dockerd cuts lines longer than its copier's buffer into partial entries of this size. */
export const maxEntryText = 16 * 1024;
/** Room `convert` needs for one entry: the longest journal line conmon writes (one 8 KiB read) escaped, and more. */
export const minConvertRoom = 6 * (maxEntryText + 8192) + 256;

/** Where a conversion stopped: bytes written to `out`, input consumed, and whether `limit` was reached. */
export interface Conversion {
  written: number;
  used: number;
  limitReached: boolean;
}

/**
 * Turns conmon's CRI "k8s-file" lines (`<RFC3339Nano with offset> <stdout|stderr> <F|P> <text>`) into json-file
 * lines. A partial (`P`) line directly followed, in the same input, by more of the same stream is joined with it
 * (dockerd's copier would have read them as one line), up to dockerd's 16 KiB; one that is not stays a partial
 * entry at once, so a prompt is shipped without waiting for its newline.
 */
export class JournalConverter {
  /** `,"attrs":{…}` for every entry, or nothing (see logAttrsJson). */
  private readonly attrs: string;

  constructor(attrs: Record<string, string> = {}) {
    this.attrs = Object.keys(attrs).length ? `,"attrs":${logAttrsJson(attrs)}` : '';
  }

  /** The entry endings of the last timestamp seen (conmon stamps all the lines of one read alike). */
  private lastStamp = '';
  private lastSuffixes: { stdout: Suffixes; stderr: Suffixes } = { stdout: { complete: head, incomplete: head }, stderr: { complete: head, incomplete: head } };

  /**
   * Converts the complete lines of `input[from, to)` into `out` (at least `minConvertRoom` bytes). Stops after a
   * whole entry once `limit` bytes are written (the log file must rotate), or when `out` might not hold the next.
   */
  convert(input: Buffer, from: number, to: number, out: Buffer, limit = Infinity): Conversion {
    let written = 0;
    let used = 0;
    while (from + used < to) {
      const r = this.convertWindow(input, from + used, windowEnd(input, from + used, to), out.subarray(written), limit - written);
      written += r.written;
      used += r.used;
      if (r.used === 0 || r.limitReached) break;
    }
    return { written, used, limitReached: written >= limit };
  }

  private convertWindow(input: Buffer, from: number, to: number, out: Buffer, limit: number): Conversion {
    const s = input.toString('latin1', from, to);
    const src = new Uint8Array(input.buffer, input.byteOffset + from, to - from);
    const dst = new Uint8Array(out.buffer, out.byteOffset, out.length);
    // Input and output in one ArrayBuffer (as the shipper allocates them): a text is moved with copyWithin,
    // without a view object per line.
    const whole = input.buffer === out.buffer ? new Uint8Array(input.buffer) : undefined;
    const inBase = input.byteOffset + from;
    const scan = new SpecialScanner(s, src);
    // Every suffix ends with the next entry's head, so an entry is one copy of its text and one of its suffix;
    // `w` is where the next entry's text goes, and the head written ahead of it is dropped at the end.
    dst.set(head, 0);
    let w = head.length;
    let pos = 0;
    let special = scan.next(0);
    let headerStart = -1;
    let headerLength = 0;
    let stamp = '';
    let stdout = true;
    let partial = false;
    let complete: Uint8Array = head; // suffixes of the current header's stamp and stream
    let incomplete: Uint8Array = head;
    // A partial entry being joined: its first line's stamp and stream, and its pieces as [start, end) pairs.
    const pieces: number[] = [];
    let entryStamp = '';
    let entryStdout = true;
    let entryBytes = 0;
    let entryClean = true;
    const close = (asPartial: boolean) => {
      const own = entryStamp === stamp && entryStdout === stdout ? { complete, incomplete } : this.suffixes(entryStamp, entryStdout);
      const suffix = asPartial ? own.incomplete : own.complete;
      w += writePieces(dst, w, src, s, pieces, entryClean);
      dst.set(suffix, w);
      w += suffix.length;
      pieces.length = 0;
      entryBytes = 0;
      entryClean = true;
    };
    for (;;) {
      const nl = s.indexOf('\n', pos);
      if (nl < 0) break;
      let textStart: number;
      if (headerStart >= 0 && pos + headerLength <= nl && scan.sameBytes(pos, headerStart, headerLength)) {
        textStart = pos + headerLength;
      } else {
        const sp1 = s.indexOf(' ', pos);
        const sp2 = sp1 < 0 || sp1 > nl ? -1 : s.indexOf(' ', sp1 + 1);
        if (sp2 < 0 || sp2 + 2 > nl || s.charCodeAt(sp2 + 2) !== 0x20) {
          pos = nl + 1; // not a journal line: conmon never writes one
          continue;
        }
        textStart = sp2 + 3;
        headerStart = pos;
        headerLength = textStart - pos;
        stamp = s.slice(pos, sp1);
        stdout = s.charCodeAt(sp1 + 4) === 0x6f; // std[o]ut
        partial = s.charCodeAt(sp2 + 1) === 0x50; // P
        ({ complete, incomplete } = this.suffixes(stamp, stdout));
      }
      if (special < textStart) special = scan.next(textStart);
      const textLen = nl - textStart;
      const plain = special >= nl && !scan.hasControl(textStart, nl);
      if (pieces.length === 0 && !partial && plain) {
        // The common case: a whole, plain line.
        if (w + textLen + 256 > dst.length) break;
        if (whole) whole.copyWithin(out.byteOffset + w, inBase + textStart, inBase + nl);
        else dst.set(src.subarray(textStart, nl), w);
        w += textLen;
        dst.set(complete, w);
        w += complete.length;
        pos = nl + 1;
        if (w - head.length >= limit) break;
        continue;
      }
      if (pieces.length > 0 && (stdout !== entryStdout || entryBytes + textLen > maxEntryText)) {
        close(true);
        if (w - head.length >= limit) break;
      }
      if (w + 6 * (entryBytes + textLen) + 256 > dst.length) break;
      if (pieces.length === 0) {
        entryStamp = stamp;
        entryStdout = stdout;
      }
      if (!plain) {
        entryClean = false;
        if (special < nl) special = scan.next(nl);
      }
      pieces.push(textStart, nl);
      entryBytes += textLen;
      pos = nl + 1;
      if (!partial) close(false);
      if (w - head.length >= limit) break;
    }
    if (pieces.length > 0) close(true);
    const written = w - head.length;
    return { written, used: pos, limitReached: written >= limit };
  }

  /** An entry's ending, with and without its newline, for a stamp and stream. */
  private suffixes(stamp: string, stdout: boolean): Suffixes {
    if (stamp === this.lastStamp) return stdout ? this.lastSuffixes.stdout : this.lastSuffixes.stderr;
    const time = utcTime(stamp);
    const make = (stream: LogStream) => {
      const tail = `","stream":"${stream}"${this.attrs},"time":"${time}"}\n{"log":"`;
      return { complete: Buffer.from(`\\n${tail}`, 'latin1'), incomplete: Buffer.from(tail, 'latin1') };
    };
    this.lastStamp = stamp;
    this.lastSuffixes = { stdout: make('stdout'), stderr: make('stderr') };
    return stdout ? this.lastSuffixes.stdout : this.lastSuffixes.stderr;
  }
}

interface Suffixes {
  complete: Uint8Array;
  incomplete: Uint8Array;
}

/** Strings this small die young; a converted chunk as one string would land in the large-object space. */
const windowSize = 64 * 1024;

/**
 * Where the window of lines starting at `start` ends: after a whole line, and not right after a partial one
 * (which is left to the next window, to be joined with what follows it).
 */
function windowEnd(input: Buffer, start: number, to: number): number {
  if (to - start <= windowSize) return to;
  const cut = input.lastIndexOf(0x0a, start + windowSize - 1) + 1;
  if (cut <= start) return to; // a line longer than a window (conmon writes none)
  const lineStart = cut >= 2 ? input.lastIndexOf(0x0a, cut - 2) + 1 : 0;
  const sp1 = input.indexOf(0x20, lineStart);
  const sp2 = sp1 < 0 ? -1 : input.indexOf(0x20, sp1 + 1);
  return lineStart > start && sp2 >= 0 && sp2 < cut && input[sp2 + 1] === 0x50 ? lineStart : cut;
}

/** An entry's text from its pieces: copied as is when plain, else escaped. */
function writePieces(dst: Uint8Array, at: number, src: Uint8Array, s: string, pieces: number[], clean: boolean): number {
  if (!clean) {
    let text = '';
    for (let i = 0; i < pieces.length; i += 2) text += s.slice(pieces[i], pieces[i + 1]);
    return escapeText(Buffer.from(text, 'latin1'), Buffer.from(dst.buffer, dst.byteOffset, dst.length), at);
  }
  let o = at;
  for (let i = 0; i < pieces.length; i += 2) {
    const piece = src.subarray(pieces[i], pieces[i + 1]);
    dst.set(piece, o);
    o += piece.length;
  }
  return o - at;
}

/**
 * Finds what a text may not carry as is. Pure-ASCII input (the common case, told at once by `isAscii`) is
 * searched with memchr for each of `" \ < > &`, and for control characters four bytes at a time; anything else
 * with a regular expression.
 */
class SpecialScanner {
  private readonly ascii: boolean;
  private readonly words: DataView;
  /** Per ASCII special character: where it occurs next (Infinity: nowhere further). */
  private readonly nextAt = [-1, -1, -1, -1, -1];

  constructor(
    private readonly s: string,
    private readonly src: Uint8Array,
  ) {
    this.ascii = isAscii(src);
    this.words = new DataView(src.buffer, src.byteOffset, src.length);
  }

  /** The next position from `from` on of a character to escape (controls aside, when the input is ASCII). */
  next(from: number): number {
    if (!this.ascii) {
      needsEscape.lastIndex = from;
      return needsEscape.exec(this.s)?.index ?? Infinity;
    }
    let min = Infinity;
    for (let k = 0; k < asciiSpecials.length; k++) {
      let at = this.nextAt[k] as number;
      if (at < from) {
        const found = this.s.indexOf(asciiSpecials[k] as string, from);
        at = found < 0 ? Infinity : found;
        this.nextAt[k] = at;
      }
      if (at < min) min = at;
    }
    return min;
  }

  /** Whether ASCII text [from, to) has a control character (the regex covers them for other input). */
  hasControl(from: number, to: number): boolean {
    if (!this.ascii) return false;
    let i = from;
    // A byte below 0x20 in a word of ASCII bytes sets that byte's top bit in (w - 0x20202020) & ~w.
    for (; i + 4 <= to; i += 4) {
      const w = this.words.getUint32(i);
      if (((w - 0x20202020) & ~w & 0x80808080) !== 0) return true;
    }
    for (; i < to; i++) if ((this.src[i] as number) < 0x20) return true;
    return false;
  }

  /** Whether the `length` bytes at `a` and at `b` are equal (a line's header against the previous one). */
  sameBytes(a: number, b: number, length: number): boolean {
    let k = 0;
    for (; k + 4 <= length; k += 4) if (this.words.getUint32(a + k) !== this.words.getUint32(b + k)) return false;
    for (; k < length; k++) if (this.src[a + k] !== this.src[b + k]) return false;
    return true;
  }
}

const asciiSpecials = ['"', '\\', '<', '>', '&'];

const hex = '0123456789abcdef';

/** Writes the raw bytes `text` JSON-escaped as moby's encoder does; returns the bytes written. */
export function escapeText(text: Uint8Array, out: Buffer, at: number): number {
  let o = at;
  for (let i = 0; i < text.length; ) {
    const b = text[i] as number;
    if (b < 0x80) {
      if (b === 0x22 || b === 0x5c) {
        out[o++] = 0x5c;
        out[o++] = b;
      } else if (b === 0x0a) o += out.write('\\n', o, 'latin1');
      else if (b === 0x0d) o += out.write('\\r', o, 'latin1');
      else if (b < 0x20 || b === 0x3c || b === 0x3e || b === 0x26) o += out.write(`\\u00${hex[b >> 4]}${hex[b & 0xf]}`, o, 'latin1');
      else out[o++] = b;
      i++;
      continue;
    }
    const n = utf8SequenceLength(text, i);
    if (n === 0) {
      o += out.write('\\ufffd', o, 'latin1');
      i++;
    } else if (n === 3 && b === 0xe2 && text[i + 1] === 0x80 && (text[i + 2] === 0xa8 || text[i + 2] === 0xa9)) {
      o += out.write(text[i + 2] === 0xa8 ? '\\u2028' : '\\u2029', o, 'latin1');
      i += 3;
    } else {
      for (let k = 0; k < n; k++) out[o++] = text[i + k] as number;
      i += n;
    }
  }
  return o - at;
}

/** Length of the valid UTF-8 sequence at `i` (Go's rules: no overlongs, surrogates or values past U+10FFFF), or 0. */
function utf8SequenceLength(t: Uint8Array, i: number): number {
  const b = t[i] as number;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const c = t[i + k];
    return c !== undefined && c >= lo && c <= hi;
  };
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b >= 0xe1 && b <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Times

/** conmon's `2006-01-02T15:04:05.000000000+07:00` (local time) as Go's RFC3339Nano in UTC, zeros trimmed. */
/**
 * A json-file entry's `attrs` (the `labels`, `env` and `tag` log options), as Go's json.Marshal writes a map:
 * keys sorted, and <, >, & escaped.
 */
export function logAttrsJson(attrs: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
  return JSON.stringify(sorted).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function utcTime(stamp: string): string {
  const offset = stamp.slice(-6);
  const dot = stamp.indexOf('.');
  const fraction = (dot < 0 ? '' : stamp.slice(dot + 1, -6)).replace(/0+$/, '');
  let seconds = stamp.slice(0, dot < 0 ? -6 : dot);
  if (offset !== '+00:00' && offset !== '-00:00') seconds = new Date(Date.parse(`${seconds}${offset}`)).toISOString().slice(0, 19);
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}

/** A stored time with exactly nine fractional digits (dockerd's `logs -t` format, RFC3339NanoFixed). */
export function fixedTime(time: string): string {
  const dot = time.indexOf('.');
  const seconds = time.slice(0, dot < 0 ? -1 : dot);
  const fraction = dot < 0 ? '' : time.slice(dot + 1, -1);
  return `${seconds}.${fraction.padEnd(9, '0')}Z`;
}

/** A time as a string that sorts like the instant (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnn`), for since/until. */
export function timeKey(time: string): string {
  return fixedTime(time).slice(0, -1);
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing json-file lines

const stdoutCode = 1;
const stderrCode = 2;
/** Flag: the text ends with an escaped "\n" that copying restores. */
const newlineFlag = 4;
const streamMarker = '","stream":"';

/**
 * The entries of one chunk of a json-file log, parsed lazily: where each entry's text and time lie in the chunk.
 * Lines in the shape Berth writes are sliced, and unescaped only when they carry an escape besides the final
 * "\n"; anything else goes through JSON.parse. A batch is valid until its reader reads on.
 */
export class LogBatch {
  private count = 0;
  private textStart: Int32Array;
  private textEnd: Int32Array;
  private timeStart: Int32Array;
  private timeEnd: Int32Array;
  /** Per entry: 1 stdout or 2 stderr, plus `newlineFlag`. */
  private flags: Uint8Array;
  /** Entries decoded on the slow path, by index. */
  private decoded = new Map<number, { text: Buffer; time: string; attrs?: Record<string, string> }>();

  private constructor(
    private readonly bytes: Buffer,
    private readonly chars: string,
    capacity: number,
  ) {
    this.textStart = new Int32Array(capacity);
    this.textEnd = new Int32Array(capacity);
    this.timeStart = new Int32Array(capacity);
    this.timeEnd = new Int32Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  /** Parses the complete lines of `bytes[0, end)`; `used` is where the first incomplete line starts. */
  static parse(bytes: Buffer, end: number): { batch: LogBatch; used: number } {
    const chars = bytes.toString('latin1', 0, end);
    // The shortest line Berth writes is 58 bytes; foreign ones may be shorter (the arrays then grow).
    const batch = new LogBatch(bytes, chars, Math.ceil(end / 56) + 8);
    let pos = 0;
    for (;;) {
      const nl = chars.indexOf('\n', pos);
      if (nl < 0) break;
      if (nl > pos) batch.add(pos, nl);
      pos = nl + 1;
    }
    return { batch, used: pos };
  }

  /** A batch of entries in hand (tests, and callers that make output themselves). */
  static of(entries: Array<{ stream: LogStream; text: string | Buffer; time: string }>): LogBatch {
    const batch = new LogBatch(Buffer.alloc(0), '', entries.length);
    for (const e of entries) {
      batch.decoded.set(batch.count, { text: typeof e.text === 'string' ? Buffer.from(e.text) : e.text, time: e.time });
      batch.flags[batch.count++] = e.stream === 'stdout' ? stdoutCode : stderrCode;
    }
    return batch;
  }

  get length(): number {
    return this.count;
  }

  stream(i: number): LogStream {
    return ((this.flags[i] as number) & 3) === stdoutCode ? 'stdout' : 'stderr';
  }

  /** The entry's time as stored (RFC3339Nano, UTC). */
  time(i: number): string {
    return this.decoded.get(i)?.time ?? this.chars.slice(this.timeStart[i], this.timeEnd[i]);
  }

  /**
   * The entry's attributes as `logs --details` shows them (moby's attrsByteSlice): `k=v` pairs sorted by key,
   * query-escaped, joined by commas; empty without attributes.
   */
  details(i: number): string {
    const attrs = this.decoded.get(i)?.attrs ?? {};
    const q = (v: string) => encodeURIComponent(v).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    return Object.keys(attrs).sort().map((k) => `${q(k)}=${q(attrs[k] ?? '')}`).join(',');
  }

  /** The entry's time with nine fractional digits, as `logs -t` shows it. */
  timestamp(i: number): string {
    return fixedTime(this.time(i));
  }

  textLength(i: number): number {
    const d = this.decoded.get(i);
    if (d) return d.text.length;
    return (this.textEnd[i] as number) - (this.textStart[i] as number) + ((this.flags[i] as number) & newlineFlag ? 1 : 0);
  }

  /** Copies the entry's text into `out` at `at`; returns its length. */
  copyText(i: number, out: Buffer, at: number): number {
    const d = this.decoded.get(i);
    if (d) return d.text.copy(out, at);
    let n = this.bytes.copy(out, at, this.textStart[i], this.textEnd[i]);
    if ((this.flags[i] as number) & newlineFlag) out[at + n++] = 0x0a;
    return n;
  }

  text(i: number): Buffer {
    const out = Buffer.allocUnsafe(this.textLength(i));
    this.copyText(i, out, 0);
    return out;
  }

  /** Keeps the first `n` entries. */
  truncate(n: number): void {
    this.count = Math.max(0, Math.min(this.count, n));
  }

  /** Drops the first `n` entries. */
  skip(n: number): void {
    if (n <= 0) return;
    for (const a of [this.textStart, this.textEnd, this.timeStart, this.timeEnd, this.flags]) a.copyWithin(0, n, this.count);
    const decoded = new Map<number, { text: Buffer; time: string; attrs?: Record<string, string> }>();
    for (const [i, d] of this.decoded) if (i >= n) decoded.set(i - n, d);
    this.decoded = decoded;
    this.count = Math.max(0, this.count - n);
  }

  private add(start: number, nl: number): void {
    if (this.count === this.flags.length) this.grow();
    const s = this.chars;
    const i = this.count;
    const textStart = start + head.length;
    const marker = s.lastIndexOf(streamMarker, nl);
    // {"log":"<text>","stream":"stdout","time":"<time>"}
    if (s.startsWith('{"log":"', start) && marker >= textStart && s.startsWith('","time":"', marker + 18) && s.charCodeAt(nl - 1) === 0x7d && s.charCodeAt(nl - 2) === 0x22) {
      const isStdout = s.startsWith('stdout', marker + 12);
      const backslash = s.indexOf('\\', textStart);
      const endsWithNewline = backslash === marker - 2 && s.charCodeAt(marker - 1) === 0x6e;
      if ((isStdout || s.startsWith('stderr', marker + 12)) && (backslash < 0 || backslash >= marker || endsWithNewline)) {
        this.textStart[i] = textStart;
        this.textEnd[i] = endsWithNewline ? marker - 2 : marker;
        this.timeStart[i] = marker + 28;
        this.timeEnd[i] = nl - 2;
        this.flags[i] = (isStdout ? stdoutCode : stderrCode) | (endsWithNewline ? newlineFlag : 0);
        this.count++;
        return;
      }
    }
    this.addParsed(start, nl);
  }

  /** The slow path: any JSON object with log, stream and time, as escapes (or other writers) make it. */
  private addParsed(start: number, nl: number): void {
    let e: { log?: unknown; stream?: unknown; time?: unknown; attrs?: unknown };
    try {
      e = JSON.parse(this.bytes.toString('utf8', start, nl)) as typeof e;
    } catch {
      return; // a torn or foreign line: skipped, as dockerd's decoder does
    }
    if (e.stream !== 'stdout' && e.stream !== 'stderr') return;
    const i = this.count++;
    const attrs = e.attrs && typeof e.attrs === 'object' ? (e.attrs as Record<string, string>) : undefined;
    this.decoded.set(i, { text: Buffer.from(typeof e.log === 'string' ? e.log : '', 'utf8'), time: typeof e.time === 'string' ? e.time : '', ...(attrs && { attrs }) });
    this.flags[i] = e.stream === 'stdout' ? stdoutCode : stderrCode;
  }

  private grow(): void {
    const n = this.flags.length * 2 + 8;
    const grown = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.textStart = grown(this.textStart, (k) => new Int32Array(k));
    this.textEnd = grown(this.textEnd, (k) => new Int32Array(k));
    this.timeStart = grown(this.timeStart, (k) => new Int32Array(k));
    this.timeEnd = grown(this.timeEnd, (k) => new Int32Array(k));
    this.flags = grown(this.flags, (k) => new Uint8Array(k));
  }
}
