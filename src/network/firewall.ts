// Berth's packet filtering and NAT: one nftables table per daemon (`ip berth`), that it owns whole and rewrites as one
// transaction from the desired state (networks and published ports) on every change. Never a rule in the host's
// own tables: deleting the table removes every trace.
import { nft } from '../kernel/net.js';
import { coalesced } from '../util/coalesce.js';
import type { Logger } from '../util/logger.js';

export interface FirewallNetwork {
  bridge: string;
  subnet: string;
  /** `--internal`: no traffic in or out of the bridge but between its own endpoints. */
  internal: boolean;
}

export interface PublishedPort {
  /** '' or 0.0.0.0 for every address of the host. */
  hostIp: string;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  containerIp: string;
  containerPort: number;
}

const q = (name: string) => JSON.stringify(name);

/**
 * The whole table:
 * - published ports: DNAT of traffic to a local address (from outside, from containers, and from the host itself
 *   through `output`; loopback traffic needs the bridges' `route_localnet`) to the container;
 * - masquerade of what leaves a bridge's subnet for elsewhere (egress), of host-loopback sources entering a bridge
 *   (replies must come back through the host), and of hairpin traffic (a container reaching a published port
 *   that leads back into its own bridge);
 * - forwarding: internal bridges are cut off, and different bridges cannot reach each other except through a
 *   published port.
 */
export function ruleset(table: string, networks: FirewallNetwork[], ports: PublishedPort[]): string {
  const bridges = networks.map((n) => q(n.bridge));
  const publish = ports.map((p) => `    ${p.hostIp && p.hostIp !== '0.0.0.0' ? `ip daddr ${p.hostIp} ` : ''}${p.protocol} dport ${p.hostPort} dnat to ${p.containerIp}:${p.containerPort}`);
  const postrouting = [
    ...(bridges.length ? [`    oifname @bridges ip saddr 127.0.0.0/8 masquerade`] : []),
    ...networks.map((n) => `    oifname ${q(n.bridge)} ip saddr ${n.subnet} ct status dnat masquerade`),
    ...networks.filter((n) => !n.internal).map((n) => `    ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`),
  ];
  const forward = [
    ...networks.filter((n) => n.internal).flatMap((n) => [`    iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`, `    oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`]),
    '    ct status dnat accept',
    ...networks.map((n) => `    iifname ${q(n.bridge)} oifname @bridges oifname != ${q(n.bridge)} drop`),
  ];
  return [
    // Declaring then deleting makes the delete succeed whether or not the table exists: one transaction.
    `table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    `  set bridges { type ifname;${bridges.length ? ` elements = { ${bridges.join(', ')} };` : ''} }`,
    '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; fib daddr type local jump publish; }',
    '  chain output { type nat hook output priority -100; policy accept; fib daddr type local jump publish; }',
    '  chain publish {',
    ...publish,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...postrouting,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...forward,
    '  }',
    '}',
  ].join('\n') + '\n';
}

/** Applies the ruleset for whatever the state is when it runs (see `coalesced`). */
export class Firewall {
  readonly apply: () => Promise<void>;
  /** Deletes the table, rules and all (declared first, so that a missing table is no error). */
  readonly remove: () => Promise<void>;

  constructor(
    table: string,
    state: () => { networks: FirewallNetwork[]; ports: PublishedPort[] },
    log: Logger,
  ) {
    this.remove = () => nft(`table ip ${table}\ndelete table ip ${table}\n`);
    this.apply = coalesced(async () => {
      const { networks, ports } = state();
      await nft(ruleset(table, networks, ports)).catch((error: unknown) => {
        log.error('nftables ruleset not applied', { error });
        throw error;
      });
    });
  }
}
