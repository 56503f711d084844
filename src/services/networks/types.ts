// The shapes networks and endpoints are kept in: network records (one file each under metadata/networks) and the
// networking part of a container's record.

export interface IpamConfig {
  Subnet: string;
  Gateway: string;
  IPRange?: string;
}

export interface NetworkRecord {
  id: string;
  name: string;
  created: string;
  driver: 'bridge' | 'host' | 'null';
  internal: boolean;
  attachable: boolean;
  ipam: IpamConfig[];
  options: Record<string, string>;
  labels: Record<string, string>;
  /** The Linux bridge (bridge driver only). */
  bridge?: string;
  /** The default `bridge` network: its containers resolve no names but their links. */
  isDefault?: boolean;
}

/** What a container asked of one network: EndpointSettings' configuration half, from create or connect. */
export interface EndpointConfig {
  NetworkID: string;
  Aliases?: string[];
  IPAMConfig?: { IPv4Address?: string } | null;
  Links?: string[];
  MacAddress?: string;
}

/** One endpoint of a running container. */
export interface Endpoint {
  NetworkID: string;
  EndpointID: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
  /** The interface inside the container, and its host end. */
  ifname: string;
  hostIfname: string;
}

/** `"80/tcp"` → its host bindings (null: exposed, not published), as inspect's NetworkSettings.Ports. */
export type PortMap = Record<string, Array<{ HostIp: string; HostPort: string }> | null>;

/** A running container's network: its namespace, endpoints by network name, and published ports. */
export interface Attachment {
  sandboxKey: string;
  endpoints: Record<string, Endpoint>;
  ports: PortMap;
}

/** What the network service needs to know of a container. */
export interface NetworkedContainer {
  id: string;
  name: string;
  networkMode: string;
  networks: Record<string, EndpointConfig>;
  portBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;
  publishAllPorts?: boolean;
  exposedPorts?: Record<string, object>;
  /** `--dns`: on user-defined networks, where the resolver forwards what it does not know. */
  dns?: string[];
}
