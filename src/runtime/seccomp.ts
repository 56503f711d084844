// Seccomp profiles in Docker's format (moby profiles/seccomp/default.json, `--security-opt seccomp=…`) turned
// into the runtime spec's `linux.seccomp` for one container, as dockerd does: rules are kept or dropped by the
// container's capabilities, the host's architecture and the host's kernel version.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { InvalidArgument, NotFound } from '../errors/index.js';

/** Docker's default profile (moby's profiles/seccomp/default.json, as Debian ships it), put there by set-up. */
export const defaultSeccompProfilePath = '/usr/share/berth/seccomp/default.json';

/** Actions and operators of config-linux.md "Seccomp" (libseccomp 2.6). */
const actions = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;
const operators = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;

export type SeccompAction = (typeof actions)[number];
export type SeccompOperator = (typeof operators)[number];

/** A condition on one syscall argument (same shape in both formats). */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

/** When a profile rule applies: all listed caps present, host arch listed, kernel at least minKernel. */
export interface SeccompFilter {
  caps?: string[];
  /** libseccomp's names for architectures: `amd64`, `x86`, `x32`, `arm64`, `arm`, `ppc64le`, `s390x`, … */
  arches?: string[];
  /** `major.minor[.patch]`, compared with the host's kernel release. */
  minKernel?: string;
}

/** A rule of a Docker-format profile. */
export interface SeccompRule {
  names?: string[];
  /** Older profiles name one syscall per rule. */
  name?: string;
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
  comment?: string;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}

/** A profile in Docker's format: a fixed `architectures` list or an `archMap` chosen from by host. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>;
  flags?: string[];
  syscalls?: SeccompRule[];
}

/** config-linux.md "Seccomp": a rule as the runtime reads it. */
export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

/** config-linux.md "Seccomp": the `linux.seccomp` object of config.json. */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls: LinuxSyscall[];
}

/** Node's architecture → libseccomp's name (used by `arches` filters) and its SCMP_ARCH constant (`archMap`). */
const hostArches: Partial<Record<NodeJS.Architecture, { name: string; scmp: string }>> = {
  x64: { name: 'amd64', scmp: 'SCMP_ARCH_X86_64' },
  ia32: { name: 'x86', scmp: 'SCMP_ARCH_X86' },
  arm64: { name: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
  arm: { name: 'arm', scmp: 'SCMP_ARCH_ARM' },
  // Node on Linux runs on little-endian POWER only, and reports it as ppc64.
  ppc64: { name: 'ppc64le', scmp: 'SCMP_ARCH_PPC64LE' },
  ppc: { name: 'ppc', scmp: 'SCMP_ARCH_PPC' },
  s390x: { name: 's390x', scmp: 'SCMP_ARCH_S390X' },
  s390: { name: 's390', scmp: 'SCMP_ARCH_S390' },
  mips: { name: 'mips', scmp: 'SCMP_ARCH_MIPS' },
  mipsel: { name: 'mipsel', scmp: 'SCMP_ARCH_MIPSEL' },
  riscv64: { name: 'riscv64', scmp: 'SCMP_ARCH_RISCV64' },
  loong64: { name: 'loong64', scmp: 'SCMP_ARCH_LOONGARCH64' },
};

/**
 * The `linux.seccomp` for a container with these capabilities on this host (`arch` and `kernel` default to
 * the running host's; tests pass others). `withoutArches` are sub-architectures the host kernel cannot run (x32
 * without CONFIG_X86_X32_ABI): no process of theirs can exist, and each architecture costs the runtime time to
 * compile the filter for (about 4 ms of runc's start for x32).
 */
export function seccompForContainer(
  profile: SeccompProfile,
  o: { capabilities: string[]; arch?: NodeJS.Architecture; kernel?: string; withoutArches?: string[] },
): LinuxSeccomp {
  const host = hostArches[o.arch ?? process.arch];
  const caps = new Set(o.capabilities);
  let kernel: KernelVersion | undefined;
  // Parsed only when a rule asks, so an odd host release string matters only to profiles using minKernel.
  const kernelAtLeast = (min: string) => compareKernel((kernel ??= parseKernelVersion(o.kernel ?? os.release())), parseKernelVersion(min)) >= 0;

  const applies = (rule: SeccompRule): boolean => {
    const ex = rule.excludes ?? {};
    if (host && ex.arches?.includes(host.name)) return false;
    if (ex.caps?.some((c) => caps.has(c))) return false;
    if (ex.minKernel && kernelAtLeast(ex.minKernel)) return false;
    const inc = rule.includes ?? {};
    if (inc.arches?.length && !(host && inc.arches.includes(host.name))) return false;
    if (inc.caps?.some((c) => !caps.has(c))) return false;
    if (inc.minKernel && !kernelAtLeast(inc.minKernel)) return false;
    return true;
  };

  const syscalls: LinuxSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    if (!applies(rule)) continue;
    if (rule.name && rule.names?.length) throw new InvalidArgument("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
    const names = rule.name ? [rule.name] : (rule.names ?? []);
    // The runtime spec requires at least one name per rule.
    if (names.length === 0) continue;
    syscalls.push({
      names: [...names],
      action: rule.action,
      ...(rule.errnoRet !== undefined && { errnoRet: rule.errnoRet }),
      ...(rule.args?.length && { args: rule.args.map((a) => ({ index: a.index, value: a.value, ...(a.valueTwo !== undefined && { valueTwo: a.valueTwo }), op: a.op })) }),
    });
  }
  const architectures = profileArchitectures(profile, host?.scmp).filter((a) => !o.withoutArches?.includes(a));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined && { defaultErrnoRet: profile.defaultErrnoRet }),
    // None listed: libseccomp filters for the native architecture only.
    ...(architectures.length && { architectures }),
    ...(profile.flags?.length && { flags: [...profile.flags] }),
    syscalls,
  };
}

/** A fixed list as given; from an archMap, the host's entry and its sub-architectures (x86_64 → x86, x32). */
function profileArchitectures(profile: SeccompProfile, hostScmp: string | undefined): string[] {
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new InvalidArgument("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  if (profile.architectures?.length) return [...profile.architectures];
  const entry = profile.archMap?.find((a) => a.architecture === hostScmp);
  return entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
}

type KernelVersion = [number, number, number];

/** `6.1.0-18-amd64` → [6, 1, 0]; `4.8` → [4, 8, 0]. */
function parseKernelVersion(release: string): KernelVersion {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) throw new InvalidArgument(`invalid kernel version "${release}": want major.minor[.patch]`);
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

function compareKernel(a: KernelVersion, b: KernelVersion): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** A profile from its JSON text (the docker CLI sends a file's content with `--security-opt seccomp=`). */
export function parseSeccompProfile(text: string): SeccompProfile {
  try {
    return decodeProfile(text);
  } catch (e) {
    throw new InvalidArgument(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
}

/** A profile from a file. A missing file is NotFound (the daemon's default may be absent); bad content InvalidArgument. */
export async function loadSeccompProfile(path: string): Promise<SeccompProfile> {
  const fail = (e: unknown) => `opening seccomp profile (${path}) failed: ${(e as Error).message}`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFound(fail(e), { cause: e });
    throw new InvalidArgument(fail(e), { cause: e });
  }
  try {
    return decodeProfile(text);
  } catch (e) {
    throw new InvalidArgument(fail(e), { cause: e });
  }
}

// Validation: user-supplied JSON must not reach the runtime malformed (runc's errors name no field).
// Go writes empty lists as null, so null stands for "absent" in optional fields.

type Json = Record<string, unknown>;

function decodeProfile(text: string): SeccompProfile {
  const raw: unknown = JSON.parse(text);
  const p = object(raw, 'profile');
  if (p.defaultAction === undefined || p.defaultAction === null || p.defaultAction === '') throw new Error('defaultAction is missing');
  return omitUndefined({
    defaultAction: oneOf(p.defaultAction, actions, 'defaultAction'),
    defaultErrnoRet: optional(p.defaultErrnoRet, uint, 'defaultErrnoRet'),
    architectures: optional(p.architectures, strings, 'architectures'),
    archMap: optional(p.archMap, (v, at) =>
      list(v, at, (e, eat) => {
        const a = object(e, eat);
        return omitUndefined({
          architecture: string(a.architecture, `${eat}.architecture`),
          subArchitectures: optional(a.subArchitectures, strings, `${eat}.subArchitectures`),
        });
      }),
    'archMap'),
    flags: optional(p.flags, strings, 'flags'),
    syscalls: optional(p.syscalls, (v, at) => list(v, at, rule), 'syscalls'),
  });
}

function rule(v: unknown, at: string): SeccompRule {
  const r = object(v, at);
  return omitUndefined({
    names: optional(r.names, strings, `${at}.names`),
    name: optional(r.name, string, `${at}.name`),
    action: oneOf(r.action, actions, `${at}.action`),
    errnoRet: optional(r.errnoRet, uint, `${at}.errnoRet`),
    args: optional(r.args, (a, aat) => list(a, aat, arg), `${at}.args`),
    comment: optional(r.comment, string, `${at}.comment`),
    includes: optional(r.includes, filter, `${at}.includes`),
    excludes: optional(r.excludes, filter, `${at}.excludes`),
  });
}

function arg(v: unknown, at: string): SeccompArg {
  const a = object(v, at);
  return omitUndefined({
    index: uint(a.index, `${at}.index`),
    value: uint(a.value, `${at}.value`),
    valueTwo: optional(a.valueTwo, uint, `${at}.valueTwo`),
    op: oneOf(a.op, operators, `${at}.op`),
  });
}

function filter(v: unknown, at: string): SeccompFilter {
  const f = object(v, at);
  const minKernel = optional(f.minKernel, string, `${at}.minKernel`);
  if (minKernel) parseKernelVersion(minKernel);
  return omitUndefined({
    caps: optional(f.caps, strings, `${at}.caps`),
    arches: optional(f.arches, strings, `${at}.arches`),
    minKernel: minKernel || undefined,
  });
}

function optional<T>(v: unknown, check: (v: unknown, at: string) => T, at: string): T | undefined {
  return v === undefined || v === null ? undefined : check(v, at);
}

function object(v: unknown, at: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${at}: want an object`);
  return v as Json;
}

function list<T>(v: unknown, at: string, each: (e: unknown, at: string) => T): T[] {
  if (!Array.isArray(v)) throw new Error(`${at}: want an array`);
  return v.map((e, i) => each(e, `${at}[${i}]`));
}

function string(v: unknown, at: string): string {
  if (typeof v !== 'string') throw new Error(`${at}: want a string`);
  return v;
}

function strings(v: unknown, at: string): string[] {
  return list(v, at, string);
}

/** Rejects numbers past 2^53 too: JSON.parse would round them and the runtime would get another value. */
function uint(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${at}: want an unsigned integer below 2^53, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], at: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new Error(`${at}: unknown value ${JSON.stringify(v)}`);
  return v as T;
}

/** Keeps absent optional fields absent (not `undefined`), so profiles compare and serialise cleanly. */
function omitUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
