/**
 * What each Dockerfile instruction does to a stage: a new config (with Docker's history line), a command to run,
 * or files to copy. Variable handling, config changes, errors and the `created_by` strings follow Docker's
 * classic builder, so images and `docker history` read the same; heredocs follow BuildKit (classic has none).
 */
import type { ContainerConfig } from '../oci/index.js';
import { InvalidArgument } from '../errors/index.js';
import { goQuote, processWord, processWords, type Vars } from './expand.js';
import { heredocBody, nameValues, parseDockerfile, PROXY_ARGS, splitFields, splitWords, type Heredoc, type Instruction } from './dockerfile.js';

export interface StageState {
  config: ContainerConfig;
  /** ARGs in effect in this stage with a value (from --build-arg, the default, or the meta ARG). */
  args: Map<string, string>;
  buildArgs: ReadonlyMap<string, string>;
  metaArgs: ReadonlyMap<string, string>;
  usedBuildArgs: Set<string>;
  author?: string;
  /** Every ARG declared in the stage, with a value or not: a declared proxy ARG shows in RUN history lines. */
  declared: Set<string>;
  /** A CMD was given in this stage: ENTRYPOINT then keeps it (else it drops the base image's). */
  cmdSet: boolean;
}

export type Step =
  | { kind: 'config'; state: StageState; createdBy: string }
  | { kind: 'run'; argv: string[]; env: string[]; createdBy: string; network?: string;
      files?: Array<{ path: string; content: string; mode: number }> }
  | { kind: 'copy'; add: boolean; sources: string[]; dest: string; from?: string; chown?: string; chmod?: number;
      heredocs: Heredoc[]; createdBy: string; link?: boolean; checksum?: string;
      /** The destination as written (expanded): Docker's history line shows it, not the absolute one. */
      writtenDest: string }
  | { kind: 'workdir'; state: StageState; path: string; createdBy: string };

export type CopyStep = Extract<Step, { kind: 'copy' }>;

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** A stage's state right after FROM: the base image's config, with Docker's default PATH when it has none. */
export function initialState(base: ContainerConfig, metaArgs: ReadonlyMap<string, string>, buildArgs: ReadonlyMap<string, string>): StageState {
  const config = cloneConfig(base);
  if (!(config.Env ?? []).some((e) => envKey(e) === 'PATH')) config.Env = [...(config.Env ?? []), `PATH=${DEFAULT_PATH}`];
  return { config, args: new Map(), buildArgs, metaArgs, usedBuildArgs: new Set(), declared: new Set(), cmdSet: false };
}

function cloneConfig(c: ContainerConfig): ContainerConfig {
  return structuredClone(c);
}

function cloneState(s: StageState): StageState {
  return { ...s, config: cloneConfig(s.config), args: new Map(s.args), declared: new Set(s.declared) };
}

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/** Sets a variable; an existing one keeps its place, as Docker's config does. */
function setEnv(env: string[], key: string, value: string): string[] {
  const i = env.findIndex((e) => envKey(e) === key);
  return i >= 0 ? env.map((e, n) => (n === i ? `${key}=${value}` : e)) : [...env, `${key}=${value}`];
}

/** ARGs usable now: proxy build-args, then the stage's declared ARGs. */
function argsInEffect(s: StageState): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of s.buildArgs) if (PROXY_ARGS.has(k)) m.set(k, v);
  for (const [k, v] of s.args) m.set(k, v);
  return m;
}

/** Variables for expansion: the ARGs in effect, with ENV winning over an ARG of the same name. */
export function varsOf(s: StageState): Map<string, string> {
  const m = argsInEffect(s);
  for (const e of s.config.Env ?? []) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  return m;
}

/** `k=v` for the ARGs in effect that no ENV overrides, sorted (Docker adds these to RUN's environment). */
function runArgs(s: StageState): string[] {
  const env = new Set((s.config.Env ?? []).map(envKey));
  return [...argsInEffect(s)].filter(([k]) => !env.has(k)).map(([k, v]) => `${k}=${v}`).sort();
}

function shellOf(c: ContainerConfig): string[] {
  return c.Shell && c.Shell.length > 0 ? c.Shell : DEFAULT_SHELL;
}

/** History line of an instruction that only changes the config: `/bin/sh -c #(nop)  ENV A=1`. */
function nop(c: ContainerConfig, comment: string): string {
  return [...shellOf(c), '#(nop) ', comment].join(' ');
}

/** Go's %q of a []string: `["a" "b"]`. */
function goList(l: string[]): string {
  return `[${l.map(goQuote).join(' ')}]`;
}

/**
 * Evaluates one instruction (not FROM) of a stage. Never changes `state`: config and workdir steps carry the
 * state after the instruction. Throws InvalidArgument with Docker's messages.
 */
export function evaluate(state: StageState, ins: Instruction, escape: string): Step {
  const k = ins.keyword;
  const vars = varsOf(state);
  const word = (w: string): string => processWord(w, vars, escape);
  const configStep = (f: (s: StageState) => string): Step => {
    const s = cloneState(state);
    const comment = f(s);
    return { kind: 'config', state: s, createdBy: nop(s.config, comment) };
  };
  switch (k) {
    case 'ARG':
      return configStep((s) => {
        const parts: string[] = [];
        for (const w of splitWords(ins.args, escape)) {
          const eq = w.indexOf('=');
          const key = eq < 0 ? w : w.slice(0, eq);
          const dflt = eq < 0 ? undefined : word(w.slice(eq + 1));
          parts.push(dflt === undefined ? key : `${key}=${dflt}`);
          s.declared.add(key);
          const given = s.buildArgs.get(key);
          if (given !== undefined) s.usedBuildArgs.add(key);
          const value = given ?? dflt ?? s.metaArgs.get(key);
          if (value === undefined) s.args.delete(key);
          else s.args.set(key, value);
        }
        return `ARG ${parts.join(' ')}`;
      });
    case 'ENV':
      return configStep((s) => {
        let env = [...(s.config.Env ?? [])];
        let comment = 'ENV';
        // Every pair expands against the variables from before the instruction, as in Docker.
        for (const [rk, rv] of nameValues(ins, escape)) {
          const key = word(rk);
          const value = word(rv);
          env = setEnv(env, key, value);
          comment += ` ${key}=${value}`;
        }
        s.config.Env = env;
        return comment;
      });
    case 'LABEL':
      return configStep((s) => {
        const labels = { ...(s.config.Labels ?? {}) };
        let comment = 'LABEL';
        for (const [rk, rv] of nameValues(ins, escape)) {
          const key = word(rk);
          const value = word(rv);
          labels[key] = value;
          comment += ` ${key}=${value}`;
        }
        s.config.Labels = labels;
        return comment;
      });
    case 'MAINTAINER':
      return configStep((s) => {
        s.author = ins.args.trim();
        return `MAINTAINER ${s.author}`;
      });
    case 'EXPOSE':
      return configStep((s) => {
        const ports = splitFields(ins.args).flatMap((p) => processWords(p, vars, escape)).sort();
        s.config.ExposedPorts = { ...(s.config.ExposedPorts ?? {}) };
        for (const p of ports) for (const key of portKeys(p)) s.config.ExposedPorts[key] = {};
        return `EXPOSE ${ports.join(' ')}`;
      });
    case 'VOLUME':
      return configStep((s) => {
        const list = (ins.json ?? splitFields(ins.args)).map(word);
        s.config.Volumes = { ...(s.config.Volumes ?? {}) };
        for (const v of list) {
          if (v.trim() === '') throw new InvalidArgument('VOLUME specified can not be an empty string');
          s.config.Volumes[v] = {};
        }
        return `VOLUME [${list.join(' ')}]`;
      });
    case 'USER':
      return configStep((s) => {
        s.config.User = word(ins.args.trim());
        return `USER ${s.config.User}`;
      });
    case 'STOPSIGNAL':
      return configStep((s) => {
        const sig = word(ins.args.trim());
        checkSignal(sig);
        s.config.StopSignal = sig;
        return `STOPSIGNAL ${sig}`;
      });
    case 'CMD':
      return configStep((s) => {
        s.config.Cmd = command(ins, s.config);
        s.cmdSet = true;
        return `CMD ${goList(s.config.Cmd)}`;
      });
    case 'ENTRYPOINT':
      return configStep((s) => {
        s.config.Entrypoint = command(ins, s.config);
        // A new ENTRYPOINT makes the base image's CMD meaningless; one set in this stage stays.
        if (!s.cmdSet) s.config.Cmd = null;
        return `ENTRYPOINT ${goList(s.config.Entrypoint)}`;
      });
    case 'SHELL':
      return configStep((s) => {
        s.config.Shell = [...(ins.json ?? [])];
        return `SHELL [${s.config.Shell.join(' ')}]`;
      });
    case 'HEALTHCHECK':
      return configStep((s) => {
        const h = healthcheck(ins);
        const old = s.config.Healthcheck as Health | undefined;
        // Docker's commit fills what the new one leaves at zero from the image's old healthcheck.
        const merged: Health = old
          ? { ...h, ...(h.Interval ? {} : pick(old, 'Interval')), ...(h.Timeout ? {} : pick(old, 'Timeout')),
              ...(h.StartPeriod ? {} : pick(old, 'StartPeriod')), ...(h.Retries ? {} : pick(old, 'Retries')) }
          : h;
        s.config.Healthcheck = merged;
        return `HEALTHCHECK &{${goList(h.Test)} ${goQuote(goDuration(h.Interval ?? 0))} ${goQuote(goDuration(h.Timeout ?? 0))} ${goQuote(goDuration(h.StartPeriod ?? 0))} ${goQuoteRune(h.Retries ?? 0)}}`;
      });
    case 'ONBUILD':
      return configStep((s) => {
        const trigger = ins.text.replace(/^\s*ONBUILD\s*/i, '');
        s.config.OnBuild = [...(s.config.OnBuild ?? []), trigger];
        return `ONBUILD ${trigger}`;
      });
    case 'WORKDIR': {
      const s = cloneState(state);
      const dir = word(ins.args.trim());
      s.config.WorkingDir = dir.startsWith('/') ? cleanPath(dir) : cleanPath(`/${s.config.WorkingDir ?? ''}/${dir}`);
      return { kind: 'workdir', state: s, path: s.config.WorkingDir, createdBy: [...shellOf(s.config), `#(nop) WORKDIR ${s.config.WorkingDir}`].join(' ') };
    }
    case 'RUN':
      return run(state, ins);
    case 'COPY':
    case 'ADD':
      return copy(state, ins, escape, vars);
    default:
      throw new InvalidArgument(`unknown instruction: ${k}`);
  }
}

/** CMD / ENTRYPOINT / RUN: the exec form as given, the shell form through the stage's SHELL. */
function command(ins: Instruction, c: ContainerConfig): string[] {
  return ins.json ? [...ins.json] : [...shellOf(c), ins.args.trim()];
}

function run(state: StageState, ins: Instruction): Step {
  const c = state.config;
  let argv: string[];
  let files: Array<{ path: string; content: string; mode: number }> | undefined;
  if (ins.heredocs.length > 0 && !ins.json) {
    const line = ins.args.trim();
    const only = ins.heredocs.length === 1 && /^<<-?(["']?)[^\s"']+\1$/.test(line);
    const first = ins.heredocs[0] as Heredoc;
    if (only && heredocBody(first).startsWith('#!')) {
      // BuildKit runs a lone heredoc with a shebang as a script file.
      const path = `/dev/pipes/${first.name}`;
      files = [{ path, content: heredocBody(first), mode: 0o755 }];
      argv = [...shellOf(c), path];
    } else if (only) {
      argv = [...shellOf(c), heredocBody(first)];
    } else {
      // Any other use goes to the shell whole, heredocs included, for the shell to read.
      argv = [...shellOf(c), line + ins.heredocs.map((h) => `\n${h.content}${h.name}`).join('')];
    }
  } else argv = command(ins, c);
  const args = runArgs(state);
  // Docker lists only the ARGs the Dockerfile declared (an undeclared proxy build-arg stays out), so a RUN
  // with nothing but such an ARG in effect reads `|0 /bin/sh -c …`.
  const listed = args.filter((a) => isNamed(state, envKey(a)));
  const saved = args.length > 0 ? [`|${listed.length}`, ...listed, ...argv] : argv;
  const env = [...(c.Env ?? []), ...args];
  const network = ins.flags.network;
  return { kind: 'run', argv, env, createdBy: saved.join(' '), ...(network !== undefined ? { network } : {}), ...(files ? { files } : {}) };
}

function isNamed(s: StageState, key: string): boolean {
  return !PROXY_ARGS.has(key) || s.declared.has(key);
}

function copy(state: StageState, ins: Instruction, escape: string, vars: Vars): Step {
  const add = ins.keyword === 'ADD';
  const word = (w: string): string => processWord(w, vars, escape);
  const markers = new Set(ins.heredocs.map((h) => h.name));
  const raw = ins.json ?? splitFields(ins.args);
  const all = raw.map(word);
  const writtenDest = all[all.length - 1] as string;
  // Heredoc sources (`COPY <<EOF /f`) come as documents, not context paths.
  const sources = all.slice(0, -1).filter((s) => {
    const m = /^<<-?(["']?)([^\s"']+)\1$/.exec(s);
    return !(m && markers.has(m[2] as string));
  });
  const heredocs = ins.heredocs.map((h) => ({ ...h, content: h.expand ? processWord(heredocBody(h), vars, escape, { raw: true }) : heredocBody(h), chomp: false }));
  let dest = writtenDest;
  if (!dest.startsWith('/')) {
    dest = cleanPath(`/${state.config.WorkingDir ?? ''}/${dest}`) + (dest.endsWith('/') && dest !== '/' ? '/' : '');
    if (dest === '//') dest = '/';
  }
  const f = ins.flags;
  const step: CopyStep = {
    kind: 'copy', add, sources, dest, writtenDest, heredocs,
    createdBy: nop(state.config, '').replace(/ {2}$/, ' ') + `${ins.keyword} ` + (f.chown !== undefined ? `--chown=${word(f.chown)}` : ''),
  };
  if (f.from !== undefined) {
    // Docker expands --from with the meta ARGs and ENV only: a stage ARG does not reach it.
    const fromVars = new Map(state.metaArgs);
    for (const e of state.config.Env ?? []) fromVars.set(envKey(e), e.slice(envKey(e).length + 1));
    step.from = processWord(f.from, fromVars, escape);
  }
  if (f.chown !== undefined) step.chown = word(f.chown);
  if (f.chmod !== undefined) {
    const v = word(f.chmod);
    if (!/^[0-7]{1,4}$/.test(v)) throw new InvalidArgument(`invalid chmod parameter: ${v}`);
    step.chmod = parseInt(v, 8);
  }
  if (f.link !== undefined) step.link = f.link === '' || f.link === 'true';
  if (f.checksum !== undefined) step.checksum = word(f.checksum);
  return step;
}

/** The whole history line of a COPY/ADD once the lead knows its sources: `… COPY file:<hash> in /x `. */
export function copyCreatedBy(step: CopyStep, source: string): string {
  return `${step.createdBy}${source} in ${step.writtenDest} `;
}

/** Go's filepath.Clean for absolute paths. */
function cleanPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return '/' + out.join('/');
}

/** ExposedPorts keys for one EXPOSE word: `80` → 80/tcp, `8000-8002/udp` → three keys. */
function portKeys(spec: string): string[] {
  const slash = spec.lastIndexOf('/');
  const port = slash < 0 ? spec : spec.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1).toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new InvalidArgument(`invalid proto: ${proto}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(port);
  const lo = Number(m?.[1]);
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo > 65535 || hi > 65535 || hi < lo) throw new InvalidArgument(`Invalid containerPort: ${port}`);
  const keys: string[] = [];
  for (let p = lo; p <= hi; p++) keys.push(`${p}/${proto}`);
  return keys;
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT',
  'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN',
  'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX']);

function checkSignal(sig: string): void {
  if (/^\d+$/.test(sig) ? Number(sig) !== 0 : isSignalName(sig.toUpperCase().replace(/^SIG/, ''))) return;
  throw new InvalidArgument(`Invalid signal: ${sig}`);
}

function isSignalName(n: string): boolean {
  const rt = /^RTMIN\+(\d+)$/.exec(n) ?? /^RTMAX-(\d+)$/.exec(n);
  if (rt) return Number(rt[1]) >= 1 && Number(rt[1]) <= 15;
  return SIGNALS.has(n);
}

interface Health {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

function pick(h: Health, k: 'Interval' | 'Timeout' | 'StartPeriod' | 'Retries'): Partial<Health> {
  return h[k] ? { [k]: h[k] } : {};
}

function healthcheck(ins: Instruction): Health {
  const rest = ins.args.trim();
  const type = (/^\S+/.exec(rest)?.[0] ?? '').toUpperCase();
  if (type === 'NONE') return { Test: ['NONE'] };
  const cmd = rest.replace(/^\S+\s*/, '');
  const json = jsonArray(cmd);
  const h: Health = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', cmd] };
  const f = ins.flags;
  for (const [flag, key] of [['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval']] as const) {
    const v = f[flag];
    if (v === undefined || v === '') continue;
    const d = parseGoDuration(v);
    if (d < 1e6) throw new InvalidArgument(`Interval ${JSON.stringify(flag)} cannot be less than 1ms`);
    h[key] = d;
  }
  if (f.retries !== undefined && f.retries !== '') {
    if (!/^[+-]?\d+$/.test(f.retries)) throw new InvalidArgument(`strconv.ParseInt: parsing ${goQuote(f.retries)}: invalid syntax`);
    const r = Number(f.retries);
    if (r < 1) throw new InvalidArgument(`--retries must be at least 1 (not ${r})`);
    h.Retries = r;
  }
  return h;
}

function jsonArray(s: string): string[] | undefined {
  if (!s.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds, with its error messages. */
export function parseGoDuration(s: string): number {
  const bad = (): never => {
    throw new InvalidArgument(`time: invalid duration ${goQuote(s)}`);
  };
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') bad();
  let total = 0;
  while (rest !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest) as RegExpExecArray;
    if (m[0] === '' || m[0] === '.') bad();
    rest = rest.slice(m[0].length);
    const u = /^[^\d.]*/.exec(rest)?.[0] ?? '';
    if (u === '') throw new InvalidArgument(`time: missing unit in duration ${goQuote(s)}`);
    const unit = UNITS[u];
    if (unit === undefined) throw new InvalidArgument(`time: unknown unit ${goQuote(u)} in duration ${goQuote(s)}`);
    rest = rest.slice(u.length);
    total += Number(`${m[1] || '0'}.${m[2] || '0'}`) * unit;
  }
  return Math.round(sign * total);
}

/** Go's Duration.String(): 0s, 1.5ms, 1m30s, 1h0m0s. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0 ? '-' : '';
  const a = Math.abs(ns);
  const frac = (v: number, d: number): string => String(v / d).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  if (a < 1e3) return `${neg}${a}ns`;
  if (a < 1e6) return `${neg}${frac(a, 1e3)}µs`;
  if (a < 1e9) return `${neg}${frac(a, 1e6)}ms`;
  const h = Math.floor(a / 3600e9);
  const m = Math.floor((a % 3600e9) / 60e9);
  const sec = frac(a % 60e9, 1e9);
  return `${neg}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sec}s`;
}

/** Go's %q of an int (a rune literal): 3 → '\x03', 65 → 'A'. */
function goQuoteRune(n: number): string {
  const c = String.fromCodePoint(n);
  if (c === "'") return "'\\''";
  const q = goQuote(c).slice(1, -1);
  return `'${q === '\\"' ? '"' : q}'`;
}

/**
 * Applies one `docker commit --change` / `docker import --change` instruction to a config. Docker allows only
 * these instructions there, and expands variables against the config's own ENV.
 */
export function applyChange(config: ContainerConfig, change: string): ContainerConfig {
  const keyword = (/^\s*(\S+)/.exec(change)?.[1] ?? '').toUpperCase();
  const allowed = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];
  if (!allowed.includes(keyword)) throw new InvalidArgument(`${keyword} is not a valid change command`);
  // Parsing it as a one-line Dockerfile stage gives the same checks and messages as a build.
  let df;
  try {
    df = parseDockerfile(`FROM scratch\n${change.replace(/\r?\n/g, ' ')}`);
  } catch (e) {
    // The change was line 2 of the document parsed here; it is line 1 of what the user wrote.
    if (e instanceof InvalidArgument) throw new InvalidArgument(e.message.replace(/^dockerfile parse error line 2:/, 'dockerfile parse error line 1:'));
    throw e;
  }
  const ins = df.stages[0]?.instructions[0];
  if (!ins) throw new InvalidArgument(`dockerfile parse error: invalid change: ${change}`);
  const state: StageState = { config: cloneConfig(config), args: new Map(), buildArgs: new Map(), metaArgs: new Map(),
    usedBuildArgs: new Set(), declared: new Set(), cmdSet: true };
  const step = evaluate(state, ins, '\\');
  if (step.kind !== 'config' && step.kind !== 'workdir') throw new InvalidArgument(`${keyword} is not a valid change command`);
  return step.state.config;
}
