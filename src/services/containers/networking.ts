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
 * Docker's /etc/hosts line for a link: the linked container's address, then the alias, its hostname and its name.
 * A linked container that is not running (or has no address on a network shared with this one) gives no line.
 */
export function linkHostsLine(alias: string, linked: ContainerRecord): string | undefined {
  const ip = Object.values(linked.state.network?.endpoints ?? {})[0]?.IPAddress;
  if (!ip) return undefined;
  return `${ip}\t${[...new Set([alias, linked.config.Hostname, linked.name])].join(' ')}`;
}
