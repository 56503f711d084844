// `network create|ls|inspect|rm|prune|connect|disconnect`: docker 28's flags, requests, output and exit codes.
import type { Command } from 'commander';
import { ApiError, ConnectError } from '../../client/index.js';
import { type Cli, CliError, ExitCode, describeError } from '../context.js';
import { collect, confirm, filtersQuery, inspectNames } from './common.js';
import { type NetworkListOptions, listNetworks } from './network-list.js';
import { type Cidr, cidrContains, parseCIDR, parseIP } from './netaddr.js';

/** pflag's string slices: each value may hold several, comma-separated. */
const csv = (value: string, previous: string[]) => [...previous, ...value.split(',')];

/** opts.MapOpts (`-o k=v`, `--aux-address k=v`): a bare `k` is `k=""`. */
function toMap(list: string[]): Record<string, string> {
  return Object.fromEntries(list.map((kv) => (kv.includes('=') ? [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] : [kv, ''])));
}

/** A flag value docker's flag parser refuses: its message, the command's usage line and the help hint, exit 125. */
function flagError(command: string, usage: string, message: string): CliError {
  return new CliError(`${message}\n\nUsage:  berth network ${command} ${usage}\n\nRun 'berth network ${command} --help' for more information`, ExitCode.Usage);
}

/** opts.ValidateLabel, as a flag error like docker's. */
function checkLabels(labels: string[]): void {
  for (const l of labels) {
    const key = (l.includes('=') ? l.slice(0, l.indexOf('=')) : l).replace(/^[ \t]+/, '');
    const bad = key === '' ? `invalid label '${l}': empty name` : /[ \t]/.test(key) ? `label '${key}' contains whitespaces` : undefined;
    if (bad) throw flagError('create', '[OPTIONS] NETWORK', `invalid argument "${l}" for "--label" flag: ${bad}`);
  }
}

/** docker's subnetMatches: whether `data` (an address, or a CIDR's address) lies in `subnet`. */
function subnetMatches(subnet: string, data: string): boolean {
  let net: Cidr;
  try {
    net = parseCIDR(subnet);
  } catch (e) {
    throw new Error(`invalid subnet: ${(e as Error).message}`);
  }
  const ip = data.includes('/') ? parseCIDR(data).ip : parseIP(data);
  return ip !== undefined && cidrContains(net, ip);
}

interface IpamFlags {
  subnet: string[];
  ipRange: string[];
  gateway: string[];
  auxAddress: string[];
  ipamDriver: string;
  ipamOpt: string[];
}

/**
 * docker's createIPAMConfig: each --ip-range, --gateway and --aux-address goes with the --subnet that contains it,
 * one IPAM.Config entry per subnet (in the order given; docker's own order is a Go map's).
 */
export function ipamConfig(o: IpamFlags) {
  if (o.subnet.length < o.ipRange.length || o.subnet.length < o.gateway.length) throw new Error('every ip-range or gateway must have a corresponding subnet');
  const entries = new Map<string, { Subnet: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }>();
  for (const s of o.subnet) {
    for (const k of entries.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new Error('multiple overlapping subnet configuration is not supported');
    }
    entries.set(s, { Subnet: s });
  }
  for (const r of o.ipRange) {
    let match = false;
    for (const s of o.subnet) {
      parseCIDR(r);
      if (!subnetMatches(s, r)) continue;
      const entry = entries.get(s)!;
      if (entry.IPRange) throw new Error(`cannot configure multiple ranges (${r}, ${entry.IPRange}) on the same subnet (${s})`);
      entry.IPRange = r;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for range ${r}`);
  }
  for (const g of o.gateway) {
    let match = false;
    for (const s of o.subnet) {
      if (!subnetMatches(s, g)) continue;
      const entry = entries.get(s)!;
      if (entry.Gateway) throw new Error(`cannot configure multiple gateways (${g}, ${entry.Gateway}) for the same subnet (${s})`);
      entry.Gateway = g;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for gateway ${g}`);
  }
  for (const [key, aa] of Object.entries(toMap(o.auxAddress))) {
    let match = false;
    for (const s of o.subnet) {
      if (!subnetMatches(s, aa)) continue;
      (entries.get(s)!.AuxiliaryAddresses ??= {})[key] = aa;
      match = true;
    }
    if (!match) throw new Error(`no matching subnet for aux-address ${aa}`);
  }
  return { Driver: o.ipamDriver, Options: toMap(o.ipamOpt), Config: [...entries.values()] };
}

/** opts.ValidateLink for `connect --link`. */
function checkLinks(links: string[]): void {
  for (const l of links) {
    const bad = l === '' ? 'empty string specified for links' : l.split(':').length > 2 ? `bad format for links: ${l}` : undefined;
    if (bad) throw flagError('connect', '[OPTIONS] NETWORK CONTAINER', `invalid argument "${l}" for "--link" flag: ${bad}`);
  }
}

export function registerNetworkCommands(network: Command, cli: Cli): void {
  const path = (name: string, action = '') => `/networks/${encodeURIComponent(name)}${action}`;

  network
    .command('create')
    .description('Create a network')
    .argument('<NETWORK>')
    .option('--attachable', 'Enable manual container attachment')
    .option('--aux-address <map>', 'Auxiliary IPv4 or IPv6 addresses used by Network driver', collect, [])
    .option('--config-from <string>', 'The network from which to copy the configuration')
    .option('--config-only', 'Create a configuration only network')
    .option('-d, --driver <string>', 'Driver to manage the Network', 'bridge')
    .option('--gateway <strings>', 'IPv4 or IPv6 Gateway for the master subnet', csv, [])
    .option('--ingress', 'Create swarm routing-mesh network')
    .option('--internal', 'Restrict external access to the network')
    .option('--ip-range <strings>', 'Allocate container ip from a sub-range', csv, [])
    .option('--ipam-driver <string>', 'IP Address Management Driver', 'default')
    .option('--ipam-opt <map>', 'Set IPAM driver specific options', collect, [])
    .option('--ipv4', 'Enable or disable IPv4 address assignment')
    .addOption(network.createOption('--no-ipv4').hideHelp()) // what `--ipv4=false` becomes (no value import of commander: `network ls` runs on the fast path)
    .option('--ipv6', 'Enable or disable IPv6 address assignment')
    .addOption(network.createOption('--no-ipv6').hideHelp())
    .option('--label <list>', 'Set metadata on a network', collect, [])
    .option('-o, --opt <map>', 'Set driver specific options', collect, [])
    .option('--scope <string>', "Control the network's scope")
    .option('--subnet <strings>', 'Subnet in CIDR format that represents a network segment', csv, [])
    .action(
      async (
        name: string,
        o: IpamFlags & { attachable?: boolean; configFrom?: string; configOnly?: boolean; driver: string; ingress?: boolean; internal?: boolean; ipv4?: boolean; ipv6?: boolean; label: string[]; opt: string[]; scope?: string },
      ) => {
        checkLabels(o.label);
        let ipam: ReturnType<typeof ipamConfig>;
        try {
          ipam = ipamConfig(o);
        } catch (e) {
          throw new CliError((e as Error).message);
        }
        const body = {
          Name: name,
          Driver: o.driver,
          Scope: o.scope ?? '',
          ...(o.ipv4 !== undefined && { EnableIPv4: o.ipv4 }),
          ...(o.ipv6 !== undefined && { EnableIPv6: o.ipv6 }),
          IPAM: ipam,
          Internal: !!o.internal,
          Attachable: !!o.attachable,
          Ingress: !!o.ingress,
          ConfigOnly: !!o.configOnly,
          ...(o.configFrom && { ConfigFrom: { Network: o.configFrom } }),
          Options: toMap(o.opt),
          Labels: toMap(o.label),
        };
        const r = await cli.client().json<{ Id: string }>('POST', '/networks/create', { body });
        cli.out(r.Id);
      },
    );

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-f, --filter <filter>', 'Provide filter values (e.g. "driver=bridge")', collect, [])
    .option('--format <string>', 'Format output using a custom template')
    .option('--no-trunc', 'Do not truncate the output')
    .option('-q, --quiet', 'Only display network IDs')
    .action((o: NetworkListOptions) => listNetworks(cli, o));

  network
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --format <string>', 'Format output using a custom template')
    .option('-v, --verbose', 'Verbose output for diagnostics')
    .action((names: string[], o: { format?: string; verbose?: boolean }) => inspectNames(cli, names, ['network'], o));

  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<NETWORK...>')
    .option('-f, --force', 'Do not error if the network does not exist')
    .action(async (names: string[], o: { force?: boolean }) => {
      let failed = false;
      for (const name of names) {
        try {
          await cli.client().do('DELETE', path(name));
          cli.out(name);
        } catch (e) {
          if (e instanceof ConnectError) throw e;
          if (o.force && e instanceof ApiError && e.status === 404) continue;
          cli.err(describeError(e));
          failed = true;
        }
      }
      // docker's StatusError for rm has its status text, printed last
      if (failed) throw new CliError('exit status 1');
    });

  network
    .command('prune')
    .description('Remove all unused networks')
    .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', collect, [])
    .option('-f, --force', 'Do not prompt for confirmation')
    .action(async (o: { filter: string[]; force?: boolean }) => {
      // a "no" cancels quietly, exit 0, as docker's cancelled prune
      if (!o.force && !(await confirm(cli, 'WARNING! This will remove all custom networks not used by at least one container.'))) return;
      const r = await cli.client().json<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', { query: { filters: filtersQuery(o.filter) } });
      // docker prints the list with a newline after each name, and then one more
      if (r.NetworksDeleted?.length) process.stdout.write(`Deleted Networks:\n${r.NetworksDeleted.map((n) => `${n}\n`).join('')}\n`);
    });

  network
    .command('connect')
    .description('Connect a container to a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('--alias <strings>', 'Add network-scoped alias for the container', csv, [])
    .option('--driver-opt <strings>', 'driver options for the network', csv, [])
    .option('--gw-priority <int>', 'Highest gw-priority provides the default gateway. Accepts positive and negative values.')
    .option('--ip <string>', 'IPv4 address (e.g., "172.30.100.104")')
    .option('--ip6 <string>', 'IPv6 address (e.g., "2001:db8::33")')
    .option('--link <list>', 'Add link to another container', collect, [])
    .option('--link-local-ip <strings>', 'Add a link-local address for the container', csv, [])
    .action(
      async (
        net: string,
        container: string,
        o: { alias: string[]; driverOpt: string[]; gwPriority?: string; ip?: string; ip6?: string; link: string[]; linkLocalIp: string[] },
      ) => {
        checkLinks(o.link);
        if (o.gwPriority !== undefined && !/^[+-]?\d+$/.test(o.gwPriority)) {
          throw flagError('connect', '[OPTIONS] NETWORK CONTAINER', `invalid argument "${o.gwPriority}" for "--gw-priority" flag: strconv.ParseInt: parsing "${o.gwPriority}": invalid syntax`);
        }
        const driverOpts: Record<string, string> = {};
        for (const kv of o.driverOpt) {
          const eq = kv.indexOf('=');
          if (eq < 0 || kv.slice(0, eq).trim() === '') throw new CliError('invalid key/value pair format in driver options');
          driverOpts[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
        }
        const EndpointConfig = {
          IPAMConfig: { ...(o.ip && { IPv4Address: o.ip }), ...(o.ip6 && { IPv6Address: o.ip6 }), ...(o.linkLocalIp.length && { LinkLocalIPs: o.linkLocalIp }) },
          ...(o.link.length && { Links: o.link }),
          Aliases: o.alias,
          DriverOpts: driverOpts,
          ...(o.gwPriority !== undefined && Number(o.gwPriority) !== 0 && { GwPriority: Number(o.gwPriority) }),
        };
        await cli.client().do('POST', path(net, '/connect'), { body: { Container: container, EndpointConfig } });
      },
    );

  network
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<NETWORK>')
    .argument('<CONTAINER>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .action(async (net: string, container: string, o: { force?: boolean }) => {
      await cli.client().do('POST', path(net, '/disconnect'), { body: { Container: container, Force: !!o.force } });
    });
}
