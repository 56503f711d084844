/**
 * A Dockerfile as the builder needs it: instructions with their flags, arguments and heredocs, grouped into
 * stages. `dockerfile-ast` finds where each instruction and heredoc starts and ends; the rules for joining
 * continuation lines, leading flags and per-instruction argument checks are Docker's classic builder's, whose
 * messages are kept ("dockerfile parse error line N: …", "failed to parse Dockerfile: …").
 */
import { DockerfileParser, type Instruction as AstInstruction } from 'dockerfile-ast';
import { InvalidArgument } from '../errors/index.js';
import { processWord, type Vars } from './expand.js';

export interface Heredoc {
  name: string;
  /** The body as written, each line ending in a newline (tabs not yet stripped for `<<-`). */
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): the body is taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body's lines (see heredocBody). */
  chomp: boolean;
}

export interface Instruction {
  keyword: string;
  /** 1-based line where it starts. */
  line: number;
  /** As written, continuation lines joined (Docker's "Step N/M : <text>"). */
  text: string;
  /** Leading `--name=value` flags; a flag given without a value (`--link`) is ''. */
  flags: Record<string, string>;
  /** The rest after the flags, unexpanded. */
  args: string;
  /** Exec (JSON array) form, when args is one. */
  json?: string[];
  heredocs: Heredoc[];
}

export interface Stage {
  index: number;
  /** Lower case, as Docker compares stage names case-insensitively. */
  name?: string;
  /** The FROM image as written (may hold meta ARGs: see expandBase). */
  base: string;
  platform?: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  escape: string;
  syntax?: string;
  metaArgs: Instruction[];
  stages: Stage[];
}

const KEYWORDS = new Set(['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/** The flags each instruction takes; `true` marks a boolean flag that may be given without a value. */
const FLAGS: Record<string, Record<string, boolean>> = {
  FROM: { platform: false },
  COPY: { from: false, chown: false, chmod: false, link: true },
  ADD: { chown: false, chmod: false, link: true, checksum: false, 'keep-git-dir': true },
  RUN: { network: false },
  HEALTHCHECK: { interval: false, timeout: false, 'start-period': false, 'start-interval': false, retries: false },
};

/** The first words of ONBUILD that Docker refuses as triggers. */
const BAD_TRIGGERS: Record<string, string> = {
  ONBUILD: 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed',
  FROM: 'FROM isn\'t allowed as an ONBUILD trigger',
  MAINTAINER: 'MAINTAINER isn\'t allowed as an ONBUILD trigger',
};

function parseError(line: number, msg: string): InvalidArgument {
  return new InvalidArgument(`dockerfile parse error line ${line}: ${msg}`);
}

/**
 * Parses a Dockerfile. `name` is only for the empty-file message. Throws InvalidArgument with Docker's text
 * for what the classic builder refuses before running any step.
 */
export function parseDockerfile(text: string, name = 'Dockerfile'): Dockerfile {
  if (text.length === 0) throw new InvalidArgument(`the Dockerfile (${name}) cannot be empty`);
  const src = text.replace(/^\uFEFF/, '');
  const ast = DockerfileParser.parse(src);
  const escape = ast.getEscapeCharacter();
  const syntax = ast.getDirectives().find((d) => d.getName().toLowerCase() === 'syntax')?.getValue() ?? undefined;
  const lines = src.split(/\r?\n/);
  const all = ast.getInstructions().map((i) => toInstruction(i, lines, escape));
  if (all.length === 0) throw new InvalidArgument('failed to parse Dockerfile: file with no instructions');
  // Docker's parser reports these for the whole file before any instruction's own checks.
  for (const ins of all) checkParser(ins, escape);
  for (const ins of all) checkInstruction(ins, escape);

  const df: Dockerfile = { escape, ...(syntax ? { syntax } : {}), metaArgs: [], stages: [] };
  const names = new Set<string>();
  for (const ins of all) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.trim().split(/[\t\v\f\r ]+/);
      const stageName = words.length === 3 ? words[2]?.toLowerCase() : undefined;
      if (stageName !== undefined) {
        // Docker reports this when it reaches the second stage; it cannot succeed, so say it up front.
        if (names.has(stageName)) throw new InvalidArgument(`${stageName} stage name already used`);
        names.add(stageName);
      }
      df.stages.push({
        index: df.stages.length,
        ...(stageName !== undefined ? { name: stageName } : {}),
        base: words[0] ?? '',
        ...(ins.flags.platform !== undefined ? { platform: ins.flags.platform } : {}),
        from: ins,
        instructions: [],
      });
    } else {
      const stage = df.stages[df.stages.length - 1];
      if (stage) stage.instructions.push(ins);
      else if (ins.keyword === 'ARG') df.metaArgs.push(ins);
      else throw new InvalidArgument('no build stage in current context');
    }
  }
  return df;
}

/** The body of a heredoc as the command or file gets it: with `<<-`, leading tabs go. */
export function heredocBody(h: Heredoc): string {
  return h.chomp ? h.content.replace(/^\t+/gm, '') : h.content;
}

function toInstruction(node: AstInstruction, lines: string[], escape: string): Instruction {
  const start = node.getRange().start.line;
  const heredocs: Heredoc[] = [];
  let end = node.getRange().end.line;
  const withDocs = node as AstInstruction & { getHeredocs?: () => ReturnType<AstHeredocs> };
  const docs = typeof withDocs.getHeredocs === 'function' ? withDocs.getHeredocs() : [];
  const markers: string[] = [];
  for (const [n, h] of docs.entries()) {
    const body = h.getContentRange();
    const delim = h.getDelimiterRange();
    // The instruction's own line ends where the first heredoc body begins.
    const first = body?.start.line ?? delim?.start.line;
    if (n === 0 && first !== undefined) end = first - 1;
    const marker = sliceRange(lines, h.getStartRange());
    markers.push(marker);
    const content = body ? lines.slice(body.start.line, body.end.line + 1).map((l) => l + '\n').join('') : '';
    heredocs.push({ name: h.getName(), content, expand: !/["']/.test(marker), chomp: /^<<-/.test(marker) });
  }
  const text = joinLines(lines.slice(start, end + 1), escape);
  const keyword = node.getKeyword().toUpperCase();
  const rest = text.replace(/^\s*\S+/, '');
  const { flags, args, error } = extractFlags(rest);
  const ins: Instruction = { keyword, line: start + 1, text, flags: {}, args, heredocs };
  if (error) throw parseError(ins.line, error);
  Object.assign(ins.flags, flags);
  if (['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'VOLUME', 'COPY', 'ADD'].includes(keyword)) {
    const json = jsonForm(args);
    if (json === 'not-strings') throw new InvalidArgument('failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only');
    if (json) ins.json = json;
  }
  return ins;
}
type AstHeredocs = () => Array<{
  getName(): string;
  getStartRange(): Range;
  getContentRange(): Range | null;
  getDelimiterRange(): Range | null;
}>;
interface Range {
  start: { line: number; character: number };
  end: { line: number; character: number };
}

function sliceRange(lines: string[], r: Range): string {
  if (r.start.line !== r.end.line) return (lines[r.start.line] ?? '').slice(r.start.character);
  return (lines[r.start.line] ?? '').slice(r.start.character, r.end.character);
}

/**
 * Joins an instruction's physical lines as Docker does: a line ending in the escape char (then blanks) goes on
 * with the next; comment lines and empty lines inside a continuation are skipped; nothing is inserted between.
 */
function joinLines(physical: string[], escape: string): string {
  const cont = new RegExp(`${escape === '`' ? '`' : '\\\\'}[ \\t]*$`);
  let out = '';
  for (const [n, raw] of physical.entries()) {
    const line = n === 0 ? raw.replace(/^\s+/, '') : raw;
    if (n > 0 && (/^\s*#/.test(line) || /^\s*$/.test(line))) continue;
    const m = cont.exec(line);
    if (m) out += line.slice(0, m.index);
    else {
      out += line;
      break;
    }
  }
  return out;
}

/** Leading words that start with `--`, quotes removed; a bare `--` ends them. */
function extractFlags(rest: string): { flags: Record<string, string>; args: string; error?: string } {
  const flags: Record<string, string> = {};
  let pos = 0;
  for (;;) {
    while (pos < rest.length && /\s/.test(rest[pos] as string)) pos++;
    if (!rest.startsWith('--', pos)) break;
    let word = '';
    let quote = '';
    let i = pos;
    for (; i < rest.length; i++) {
      const c = rest[i] as string;
      if (quote) {
        if (c === quote) quote = '';
        else word += c;
      } else if (/\s/.test(c)) break;
      else if (c === '"' || c === "'") quote = c;
      else word += c;
    }
    pos = i;
    if (word === '--') break;
    const eq = word.indexOf('=');
    const key = eq < 0 ? word.slice(2) : word.slice(2, eq);
    if (key in flags) return { flags, args: '', error: `Duplicate flag specified: ${key}` };
    flags[key] = eq < 0 ? '\0' : word.slice(eq + 1); // '\0': given without a value, checked per instruction
  }
  return { flags, args: rest.slice(pos).replace(/^\s+/, '') };
}

/** A JSON array of strings; 'not-strings' when it is JSON but holds something else (Docker refuses that). */
function jsonForm(args: string): string[] | 'not-strings' | undefined {
  const t = args.trim();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined; // not JSON: shell form, as Docker does
  }
  if (!Array.isArray(v)) return undefined;
  return v.every((x) => typeof x === 'string') ? (v as string[]) : 'not-strings';
}

/** Docker's whitespace split (no quote handling), used where the classic parser splits plainly. */
export function splitFields(s: string): string[] {
  const t = s.trim();
  return t === '' ? [] : t.split(/[\t\v\f\r\n ]+/);
}

/**
 * Docker's word split that keeps quotes (they are removed later, by expansion): `a="b c" d` → [`a="b c"`, `d`].
 */
export function splitWords(s: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  const cs = [...s];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i] as string;
    if (quote) {
      if (c === quote) quote = '';
      else if (c === escape && quote !== "'") {
        if (i + 1 === cs.length) continue;
        word += c;
        i++;
        word += cs[i] as string;
        continue;
      }
      word += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '"' || c === "'") {
      quote = c;
      word += c;
    } else if (c === escape) {
      if (i + 1 === cs.length) continue;
      word += c + (cs[++i] as string);
    } else word += c;
  }
  if (inWord) words.push(word);
  return words;
}

/** `KEY=value …` pairs or the legacy `KEY value`, unexpanded; Docker's parser-stage errors. */
export function nameValues(ins: Instruction, escape: string): Array<[string, string]> {
  const words = splitWords(ins.args, escape);
  if (words.length === 0) return [];
  if (!(words[0] as string).includes('=')) {
    const t = ins.args.replace(/^\s+/, '');
    const m = /[\t\v\f\r ]+/.exec(t);
    if (!m) throw new InvalidArgument(`failed to parse Dockerfile: ${ins.keyword} must have two arguments`);
    return [[t.slice(0, m.index), t.slice(m.index + m[0].length)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) {
      throw new InvalidArgument(`failed to parse Dockerfile: Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    }
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Checks made by Docker's line parser (messages prefixed "failed to parse Dockerfile:"). */
function checkParser(ins: Instruction, escape: string): void {
  if (ins.keyword === 'ENV' || ins.keyword === 'LABEL') nameValues(ins, escape);
}

/** Checks made when Docker turns a parsed line into an instruction ("dockerfile parse error line N:"). */
function checkInstruction(ins: Instruction, escape: string): void {
  const k = ins.keyword;
  const fail = (msg: string): never => {
    throw parseError(ins.line, msg);
  };
  if (!KEYWORDS.has(k)) fail(`unknown instruction: ${k}`);
  const allowed = FLAGS[k] ?? {};
  for (const [f, v] of Object.entries(ins.flags)) {
    if (!(f in allowed)) fail(`Unknown flag: ${f}`);
    if (v === '\0') {
      if (!allowed[f]) fail(`Missing a value on flag: ${f}`);
      ins.flags[f] = '';
    }
  }
  const args = ins.args.trim();
  const fields = splitFields(args);
  const atLeastOne = (): void => {
    if (args === '' && ins.heredocs.length === 0) fail(`${k} requires at least one argument`);
  };
  switch (k) {
    case 'FROM':
      if (!(fields.length === 1 || (fields.length === 3 && fields[1]?.toLowerCase() === 'as'))) {
        fail('FROM requires either one or three arguments');
      }
      if (fields.length === 3 && !/^[a-z][a-z0-9-_.]*$/.test((fields[2] as string).toLowerCase())) {
        fail(`invalid name for build stage: ${JSON.stringify(fields[2])}, name can't start with a number or contain symbols`);
      }
      break;
    case 'ENV':
    case 'LABEL':
      atLeastOne();
      if (nameValues(ins, escape).some(([key]) => key === '')) fail(`${k} names can not be blank`);
      break;
    case 'ARG':
      atLeastOne();
      if (splitWords(args, escape).some((w) => w.startsWith('='))) fail('ARG names can not be blank');
      break;
    case 'MAINTAINER':
    case 'USER':
    case 'WORKDIR':
    case 'STOPSIGNAL':
      if (args === '') fail(`${k} requires exactly one argument`);
      break;
    case 'EXPOSE':
    case 'ONBUILD':
    case 'HEALTHCHECK':
      atLeastOne();
      break;
    case 'VOLUME':
      if (ins.json ? ins.json.length === 0 : args === '') fail('VOLUME requires at least one argument');
      break;
    case 'SHELL':
      if (!ins.json) fail('SHELL requires the arguments to be in JSON form');
      else if (ins.json.length === 0) fail('SHELL requires at least one argument');
      break;
    case 'COPY':
    case 'ADD':
      if ((ins.json ?? fields).length < 2) {
        fail(`${k} requires at least two arguments, but only one was provided. Destination could not be determined`);
      }
      break;
  }
  if (k === 'ONBUILD') {
    const trigger = (fields[0] ?? '').toUpperCase();
    const bad = BAD_TRIGGERS[trigger];
    if (bad) fail(bad);
  }
  if (k === 'HEALTHCHECK') {
    const type = (fields[0] ?? '').toUpperCase();
    if (type === 'NONE') {
      if (fields.length > 1) fail('HEALTHCHECK NONE takes no arguments');
    } else if (type === 'CMD') {
      if (fields.length < 2) fail('Missing command after HEALTHCHECK CMD');
    } else fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  }
}

/** Values of the ARGs before the first FROM: defaults expanded in order, overridden by --build-arg. */
export function metaArgValues(df: Dockerfile, buildArgs: Vars): Map<string, string> {
  const values = new Map<string, string>();
  for (const [k, v] of buildArgs) if (PROXY_ARGS.has(k)) values.set(k, v);
  for (const ins of df.metaArgs) {
    for (const w of splitWords(ins.args, df.escape)) {
      const eq = w.indexOf('=');
      const key = eq < 0 ? w : w.slice(0, eq);
      const given = buildArgs.get(key);
      if (given !== undefined) values.set(key, given);
      else if (eq >= 0) values.set(key, processWord(w.slice(eq + 1), values, df.escape));
      else values.delete(key);
    }
  }
  return values;
}

/** ARGs every stage may use without declaring them (and which stay out of RUN history lines). */
export const PROXY_ARGS: ReadonlySet<string> = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy',
  'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

/** A stage's FROM image with meta ARGs substituted; "base name (…) should not be blank" as Docker says. */
export function expandBase(stage: Stage, metaArgs: Vars, escape = '\\'): string {
  const base = processWord(stage.base, metaArgs, escape);
  if (base === '') throw new InvalidArgument(`base name (${stage.base}) should not be blank`);
  return base;
}

/**
 * The earlier stage `ref` names (FROM <ref>, COPY --from=<ref>), by name or index, or undefined when it names
 * an image. Stages may only refer back; the errors are the classic builder's for --from.
 */
export function stageRef(df: Dockerfile, current: number, ref: string): Stage | undefined {
  const byName = df.stages.find((s) => s.index < current && s.name === ref.toLowerCase());
  if (byName) return byName;
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i < current) return df.stages[i];
    if (i === current) throw new InvalidArgument(`invalid from flag value ${ref}: refers to current build stage`);
    throw new InvalidArgument(`invalid from flag value ${ref}: index out of bounds`);
  }
  return undefined;
}

/** The stage `target` names (a name or an index; the last one by default). */
export function targetStage(df: Dockerfile, target?: string): Stage {
  if (target === undefined || target === '') return df.stages[df.stages.length - 1] as Stage;
  const t = target.toLowerCase();
  const s = df.stages.find((x) => x.name === t) ?? (/^\d+$/.test(t) ? df.stages[Number(t)] : undefined);
  if (!s) throw new InvalidArgument(`failed to reach build target ${target} in Dockerfile`);
  return s;
}

/**
 * The stages `target` needs, in build order: the target, and any stage a needed one names in FROM or
 * COPY --from (flag values expanded with the meta ARGs, as Docker does). Note that the classic builder runs
 * every stage up to the target (df.stages.slice(0, target.index + 1)); BuildKit only the needed ones.
 */
export function stagesFor(df: Dockerfile, target?: string, metaArgs: Vars = new Map()): Stage[] {
  const last = targetStage(df, target);
  const needed = new Set<number>([last.index]);
  for (let i = last.index; i >= 0; i--) {
    const stage = df.stages[i] as Stage;
    if (!needed.has(i)) continue;
    const refs = [stage.base, ...stage.instructions.filter((x) => x.keyword === 'COPY' && x.flags.from !== undefined).map((x) => x.flags.from as string)];
    for (const r of refs) {
      let name: string;
      try {
        name = processWord(r, metaArgs, df.escape);
      } catch {
        continue; // the step itself reports the bad word when it runs
      }
      const dep = df.stages.find((s) => s.index < i && s.name === name.toLowerCase()) ??
        (r !== stage.base && /^\d+$/.test(name) && Number(name) < i ? df.stages[Number(name)] : undefined);
      if (dep) needed.add(dep.index);
    }
  }
  return df.stages.filter((s) => needed.has(s.index));
}
