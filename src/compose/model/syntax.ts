// The short syntaxes of ports and volumes, shared by the merge (which needs their unique keys) and normalize.
import type { PortConfig, ServiceVolumeConfig } from '../types.js';
import { ComposeFileError } from './errors.js';

function portNumber(s: string, what: string, spec: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new ComposeFileError(`invalid ${what}: ${s} in port ${JSON.stringify(spec)}`);
  return n;
}

function range(s: string, what: string, spec: string): [number, number] {
  const [a, b] = s.split('-');
  const lo = portNumber(a!, what, spec);
  const hi = b === undefined ? lo : portNumber(b, what, spec);
  if (hi < lo) throw new ComposeFileError(`invalid port range: ${s}`);
  return [lo, hi];
}

/** `"[ip:][published:]target[/proto]"` (or a number), a range expanded to one entry per port. */
export function parsePortShort(v: string | number): PortConfig[] {
  const spec = String(v);
  let rest = spec;
  let protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash !== -1) {
    protocol = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new ComposeFileError(`invalid proto: ${protocol}`);
  let hostIp: string | undefined;
  let published: string | undefined;
  let target: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1 || rest[close + 1] !== ':') throw new ComposeFileError(`invalid port ${JSON.stringify(spec)}`);
    hostIp = rest.slice(1, close);
    const parts = rest.slice(close + 2).split(':');
    if (parts.length !== 2) throw new ComposeFileError(`invalid port ${JSON.stringify(spec)}`);
    [published, target] = parts as [string, string];
  } else {
    const parts = rest.split(':');
    target = parts.pop()!;
    if (parts.length >= 1) published = parts.pop();
    if (parts.length) hostIp = parts.join(':');
  }
  if (published === '') published = undefined;
  const [tlo, thi] = range(target, 'containerPort', spec);
  const base = { protocol: protocol as PortConfig['protocol'], mode: 'ingress' as const, ...(hostIp ? { host_ip: hostIp } : {}) };
  if (tlo === thi) return [{ ...base, target: tlo, ...(published !== undefined ? { published: published.includes('-') ? published : String(range(published, 'hostPort', spec)[0]) } : {}) }];
  const out: PortConfig[] = [];
  let plo: number | undefined;
  if (published !== undefined) {
    const [a, b] = range(published, 'hostPort', spec);
    if (b - a !== thi - tlo) throw new ComposeFileError(`invalid ranges specified for container and host ports: ${JSON.stringify(spec)}`);
    plo = a;
  }
  for (let p = tlo; p <= thi; p++) out.push({ ...base, target: p, ...(plo !== undefined ? { published: String(plo + p - tlo) } : {}) });
  return out;
}

/** `source:` is a host path when it looks like one; otherwise it names a volume. */
export const isHostPath = (s: string): boolean => s.startsWith('/') || s.startsWith('.') || s.startsWith('~');

const propagations = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];

/** `[source:]target[:options]`, paths left as written (normalize makes them absolute). */
export function parseVolumeShort(spec: string): ServiceVolumeConfig {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new ComposeFileError(`invalid spec: ${spec}: ${parts.length > 3 ? 'too many colons' : 'empty section between colons'}`);
  if (parts.length === 1) return { type: 'volume', target: parts[0]! };
  const [source, target, opts] = parts as [string, string, string | undefined];
  const bind = isHostPath(source);
  const v: ServiceVolumeConfig = { type: bind ? 'bind' : 'volume', source, target };
  if (bind) v.bind = { create_host_path: true };
  for (const o of opts ? opts.split(',') : []) {
    if (o === 'ro') v.read_only = true;
    else if (o === 'rw') v.read_only = false;
    else if (o === 'nocopy') v.volume = { ...v.volume, nocopy: true };
    else if (o === 'z' || o === 'Z') v.bind = { ...v.bind, selinux: o };
    else if (propagations.includes(o)) v.bind = { ...v.bind, propagation: o };
    else if (['consistent', 'cached', 'delegated'].includes(o)) v.consistency = o;
    else throw new ComposeFileError(`invalid spec: ${spec}: unknown option ${JSON.stringify(o)}`);
  }
  if (v.read_only === false) delete v.read_only;
  return v;
}
