// What a container's record says about its networks, in the terms of the network service, and the /etc/hosts
// lines of its legacy links.
import { InvalidArgument } from '../../errors/index.js';
import type { NetworkedContainer } from '../networks/index.js';
import type { ContainerRecord } from './record.js';

export function networkedContainer(c: ContainerRecord, networks = c.networks ?? {}): NetworkedContainer {
  const hc = c.hostConfig;
  return {
    id: c.id,
    name: c.name,
    networkMode: hc.NetworkMode,
    networks,
    ...(hc.PortBindings && { portBindings: hc.PortBindings }),
    ...(hc.PublishAllPorts && { publishAllPorts: true }),
    ...(c.config.ExposedPorts && { exposedPorts: c.config.ExposedPorts }),
    ...(hc.Dns?.length && { dns: hc.Dns }),
  };
}

/** `--link name[:alias]` → [container name or ID, alias]. */
export function parseLink(link: string): [string, string] {
  const [name = '', alias = name, ...rest] = link.replace(/^\//, '').split(':');
  if (!name || rest.length) throw new InvalidArgument(`invalid link format: ${link}`);
  return [name, alias.replace(/^.*\//, '')];
}

/**
 * The variables of a legacy link, as moby's links package makes them: `<ALIAS>_NAME=/<container>/<alias>`, per
 * exposed port (in order) `<ALIAS>_PORT_<port>_<PROTO>` and its `_ADDR`, `_PORT` and `_PROTO`, the first port as
 * `<ALIAS>_PORT`, and the linked container's environment as `<ALIAS>_ENV_<NAME>` (but HOME and PATH).
 */
export function linkEnv(alias: string, linked: ContainerRecord, containerName: string): string[] {
  const ip = Object.values(linked.state.network?.endpoints ?? {})[0]?.IPAddress;
  if (!ip) return [];
  const prefix = alias.toUpperCase().replace(/-/g, '_');
  const ports = Object.keys(linked.config.ExposedPorts ?? {})
    .map((p) => {
      const [port = '', proto = 'tcp'] = p.split('/');
      return { port: Number(port), proto };
    })
    .sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
  const env = [`${prefix}_NAME=/${containerName}/${alias}`];
  const first = ports[0];
  if (first) env.push(`${prefix}_PORT=${first.proto}://${ip}:${first.port}`);
  for (const { port, proto } of ports) {
    const key = `${prefix}_PORT_${port}_${proto.toUpperCase()}`;
    env.push(`${key}=${proto}://${ip}:${port}`, `${key}_ADDR=${ip}`, `${key}_PORT=${port}`, `${key}_PROTO=${proto}`);
  }
  for (const e of linked.config.Env) {
    const eq = e.indexOf('=');
    const name = e.slice(0, eq);
    if (eq > 0 && name !== 'HOME' && name !== 'PATH') env.push(`${prefix}_ENV_${name}=${e.slice(eq + 1)}`);
  }
  return env;
}

/**
 * Docker's /etc/hosts line for a link: the linked container's address, then the alias, its hostname and its name.
 * A linked container that is not running (or has no address on a network shared with this one) gives no line.
 */
export function linkHostsLine(alias: string, linked: ContainerRecord): string | undefined {
  const ip = Object.values(linked.state.network?.endpoints ?? {})[0]?.IPAddress;
  if (!ip) return undefined;
  return `${ip}\t${[...new Set([alias, linked.config.Hostname, linked.name])].join(' ')}`;
}
