// Linux capabilities by name, and a container's set from Docker's defaults plus --cap-add/--cap-drop.
import { readFileSync } from 'node:fs';
import { InvalidArgument } from '../errors/index.js';

/** capability(7) names in kernel order (the index is the capability's number). */
const allNames = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE',
].map((n) => `CAP_${n}`);

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const defaultCapabilities = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

let hostCaps: string[] | undefined;
/**
 * The capabilities a container can get here: those in berthd's own bounding set (on some hosts even root lacks
 * a few, and the runtime fails to grant what it does not have).
 */
export function allCapabilities(): string[] {
  if (!hostCaps) {
    const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
    hostCaps = allNames.filter((_, bit) => (bounding >> BigInt(bit)) & 1n);
  }
  return hostCaps;
}

/** `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` are one capability; `ALL` stays `ALL`. */
function normalize(name: string, flag: 'CapAdd' | 'CapDrop'): string {
  const upper = name.toUpperCase();
  if (upper === 'ALL') return upper;
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!allNames.includes(full)) throw new InvalidArgument(`invalid ${flag}: unknown capability: "${full}"`);
  return full;
}

/** Validates --cap-add/--cap-drop names (dockerd's messages); call at create. */
export function validateCapabilities(add: string[] | null, drop: string[] | null): void {
  for (const c of add ?? []) normalize(c, 'CapAdd');
  for (const c of drop ?? []) normalize(c, 'CapDrop');
}

/**
 * The container's capability set: all of them when privileged; otherwise Docker's defaults, with `ALL` in add
 * meaning every capability and `ALL` in drop meaning none but the added ones.
 */
export function containerCapabilities(o: { add?: string[] | null; drop?: string[] | null; privileged?: boolean }): string[] {
  const all = allCapabilities();
  if (o.privileged) return all;
  const add = (o.add ?? []).map((c) => normalize(c, 'CapAdd'));
  const drop = (o.drop ?? []).map((c) => normalize(c, 'CapDrop'));
  const base = add.includes('ALL') ? all : drop.includes('ALL') ? [] : defaultCapabilities;
  const set = new Set([...base, ...add.filter((c) => c !== 'ALL')]);
  for (const c of drop) if (!add.includes(c)) set.delete(c);
  return all.filter((c) => set.has(c));
}
