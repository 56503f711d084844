/**
 * Docker's word processing for Dockerfile arguments: variable substitution, quote removal, escapes and (for
 * EXPOSE and the like) splitting into words. This follows the classic builder's lexer, so `${v:-d}` and `${v:+a}`
 * are the only modifiers; `${v-d}` fails with "missing ':' in substitution" as it does there.
 */
import { InvalidArgument } from '../errors/index.js';

/** Variables visible to an instruction; a name that is absent expands to the empty string. */
export type Vars = ReadonlyMap<string, string>;

export interface LexOptions {
  /** Quotes are ordinary characters and escapes are kept as written: heredoc bodies, where only `$` is special. */
  raw?: boolean;
}

class LexError extends Error {}

/** One word, quotes removed and variables substituted ("failed to process …" on bad syntax). */
export function processWord(word: string, vars: Vars, escape = '\\', o: LexOptions = {}): string {
  return run(word, vars, escape, o).text;
}

/** Like processWord, but split on whitespace outside quotes; a variable's value splits too (EXPOSE $PORTS). */
export function processWords(word: string, vars: Vars, escape = '\\'): string[] {
  return run(word, vars, escape, {}).words;
}

function run(word: string, vars: Vars, escape: string, o: LexOptions): { text: string; words: string[] } {
  const lex = new Lexer(word, vars, escape, o);
  try {
    return lex.until(undefined);
  } catch (e) {
    if (e instanceof LexError) throw new InvalidArgument(`failed to process ${goQuote(word)}: ${e.message}`);
    throw e;
  }
}

/** Collects words: unquoted whitespace separates them, while quoted text (even empty "") belongs to one. */
class Words {
  readonly words: string[] = [];
  private word = '';
  private inWord = false;
  char(c: string): void {
    if (isSpace(c)) {
      if (this.inWord && this.word !== '') {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.raw(c);
  }
  raw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  chars(s: string): void {
    for (const c of s) this.char(c);
  }
  done(): string[] {
    if (this.word !== '') this.words.push(this.word);
    this.word = '';
    return this.words;
  }
}

class Lexer {
  private pos = 0;
  private readonly chars: string[];
  constructor(
    src: string,
    private readonly vars: Vars,
    private readonly escape: string,
    private readonly o: LexOptions,
  ) {
    this.chars = [...src];
  }
  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }

  /** Reads to `stop` (consumed) or the end; `stop` undefined means the end of the input. */
  until(stop: string | undefined): { text: string; words: string[] } {
    let text = '';
    const words = new Words();
    for (let c = this.peek(); c !== undefined; c = this.peek()) {
      if (stop !== undefined && c === stop) {
        this.next();
        return { text, words: words.done() };
      }
      if (c === '$') {
        const v = this.dollar();
        text += v;
        words.chars(v);
      } else if (!this.o.raw && (c === "'" || c === '"')) {
        const v = c === "'" ? this.single() : this.double();
        text += v;
        words.raw(v);
      } else {
        this.next();
        if (c === this.escape && this.o.raw) {
          // As in a shell here-document: the escape only protects `$` and itself.
          const n = this.peek();
          const lit = n === '$' || n === this.escape ? (this.next() as string) : c;
          words.raw(lit);
          text += lit;
        } else if (c === this.escape) {
          const e = this.next();
          if (e === undefined) break; // an escape at the very end is dropped
          words.raw(e);
          text += e;
        } else {
          words.char(c);
          text += c;
        }
      }
    }
    if (stop !== undefined) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
    return { text, words: words.done() };
  }

  private single(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.next();
      if (c === undefined) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (c === "'") return out;
      out += c;
    }
  }

  private double(): string {
    this.next();
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (c === '"') {
        this.next();
        return out;
      }
      if (c === '$') {
        out += this.dollar();
        continue;
      }
      this.next();
      if (c === this.escape) {
        const n = this.peek();
        if (n === undefined) continue;
        // Inside double quotes only these can be escaped; any other escape char stays as written.
        if (n === '"' || n === '$' || n === this.escape) {
          out += n;
          this.next();
          continue;
        }
      }
      out += c;
    }
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : this.get(name);
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.name();
    const c = this.next();
    if (c === '}') return this.get(name);
    if (c === ':') {
      const modifier = this.next();
      let word: string;
      try {
        word = this.until('}').text;
      } catch (e) {
        if (e instanceof LexError && this.peek() === undefined) throw new LexError("syntax error: missing '}'");
        throw e;
      }
      const value = this.get(name);
      if (modifier === '+') return value !== '' ? word : value;
      if (modifier === '-') return value === '' ? word : value;
      throw new LexError(`unsupported modifier (${modifier ?? ''}) in substitution`);
    }
    throw new LexError("missing ':' in substitution");
  }

  /** A variable name: letters, digits and `_`; or all digits ($1); or one special parameter ($@, $#, …). */
  private name(): string {
    let out = '';
    for (let c = this.peek(); c !== undefined; c = this.peek()) {
      if (out === '' && /\p{Nd}/u.test(c)) {
        while (this.peek() !== undefined && /\p{Nd}/u.test(this.peek() as string)) out += this.next();
        return out;
      }
      if (out === '' && '@*#?-$!0'.includes(c)) return this.next() as string;
      if (!/[\p{L}\p{Nd}_]/u.test(c)) break;
      out += this.next();
    }
    return out;
  }

  private get(name: string): string {
    return this.vars.get(name) ?? '';
  }
}

function isSpace(c: string): boolean {
  return /\s/u.test(c);
}

/** Go's %q for a string: Docker's messages and history strings quote with it. */
export function goQuote(s: string): string {
  let out = '"';
  for (const c of s) {
    const cp = c.codePointAt(0) as number;
    if (c === '"' || c === '\\') out += '\\' + c;
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === '\x07') out += '\\a';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (c === '\v') out += '\\v';
    else if (c === ' ' || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(c)) out += c;
    else if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}
