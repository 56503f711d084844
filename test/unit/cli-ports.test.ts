// The CLI's reading of `-p`/`--expose` and of run's network flags, against what the docker 28 CLI sends for the
// same arguments (captured by pointing docker at a socket that records its requests): the ports exposed and
// bound, the errors and their wording, and the NetworkMode/EndpointsConfig of --network, --ip, --network-alias.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addExposedPorts, createBody, networkingBody, parsePortSpecs } from '../../src/cli/commands/run-flags.js';
import { ipamConfig } from '../../src/cli/commands/network.js';
import { createFlags } from '../harness/cli-flags.js';

/** The options `berth create ARGS… busybox` parses to. */
const flags = createFlags;

/** Bindings as `HostIp|HostPort` strings, per port. */
const compact = (bindings: Record<string, Array<{ HostIp: string; HostPort: string }>>) =>
  Object.fromEntries(Object.entries(bindings).map(([port, list]) => [port, list.map((b) => `${b.HostIp}|${b.HostPort}`)]));

// What docker 28.2.2 sent as HostConfig.PortBindings for `-p SPEC`.
const valid: Array<[string, Record<string, string[]>]> = [
  ['80', { '80/tcp': ['|'] }],
  ['80/udp', { '80/udp': ['|'] }],
  ['80/UDP', { '80/udp': ['|'] }],
  ['80/sctp', { '80/sctp': ['|'] }],
  ['8080:80', { '80/tcp': ['|8080'] }],
  ['8080:80/udp', { '80/udp': ['|8080'] }],
  ['1.2.3.4:8080:80', { '80/tcp': ['1.2.3.4|8080'] }],
  ['1.2.3.4::80', { '80/tcp': ['1.2.3.4|'] }],
  [':80', { '80/tcp': ['|'] }],
  ['::80', { '80/tcp': ['|'] }],
  ['[::1]:80:80', { '80/tcp': ['::1|80'] }],
  ['[::1]::80', { '80/tcp': ['::1|'] }],
  ['::1:8080:80', { '80/tcp': ['::1|8080'] }],
  ['[::1]:8080-8081:80-81', { '80/tcp': ['::1|8080'], '81/tcp': ['::1|8081'] }],
  ['8000-8010:80', { '80/tcp': ['|8000-8010'] }],
  ['8000-8002:80-82', { '80/tcp': ['|8000'], '81/tcp': ['|8001'], '82/tcp': ['|8002'] }],
  ['80-82', { '80/tcp': ['|'], '81/tcp': ['|'], '82/tcp': ['|'] }],
  ['80/', { '80/tcp': ['|'] }],
  ['80-83-100', { '80/tcp': ['|'], '81/tcp': ['|'], '82/tcp': ['|'], '83/tcp': ['|'] }],
  ['8000-8010-8020:80', { '80/tcp': ['|8000-8010'] }],
  ['0', { '0/tcp': ['|'] }],
  ['0:0', { '0/tcp': ['|0'] }],
  ['published=8080,target=80', { '80/tcp': ['|8080'] }],
  ['published=8080,target=80,protocol=udp', { '80/udp': ['|8080'] }],
  ['target=80', { '80/tcp': ['|'] }],
  ['published=8080,target=80,mode=host', { '80/tcp': ['|8080'] }],
  ['::ffff:1.2.3.4:80:80', { '80/tcp': ['::ffff:1.2.3.4|80'] }],
  ['[::ffff:1.2.3.4]:80:80', { '80/tcp': ['::ffff:1.2.3.4|80'] }],
  ['65535:65535', { '65535/tcp': ['|65535'] }],
];

// What docker 28.2.2 printed (after "docker: ") for `-p SPEC`, exiting 125.
const invalid: Array<[string, string]> = [
  ['8000-8001:80-82', 'invalid ranges specified for container and host Ports: 80-82 and 8000-8001'],
  ['8080:80-82', 'invalid ranges specified for container and host Ports: 80-82 and 8080'],
  ['abc', 'invalid containerPort: abc'],
  ['80/foo', 'invalid proto: foo'],
  ['/tcp', 'no port specified: /tcp<empty>'],
  [':', 'no port specified: :<empty>'],
  ['8080:', 'no port specified: 8080:<empty>'],
  ['1.2.3.4:8080:', 'no port specified: 1.2.3.4:8080:<empty>'],
  ['300.1.1.1:80:80', 'invalid IP address: 300.1.1.1'],
  ['[::1:80:80', "invalid IP address [::1: address [::1:: missing ']' in address"],
  ['[::1]x:80:80', 'invalid IP address [::1]x: address [::1]x:: missing port in address'],
  ['[abc]:80:80', 'invalid IP address: abc'],
  ['[::1]]:80:80', 'invalid IP address [::1]]: address [::1]]:: missing port in address'],
  ['localhost:80:80', 'invalid IP address: localhost'],
  ['70000', 'invalid containerPort: 70000'],
  ['8080:70000', 'invalid containerPort: 70000'],
  ['70000:80', 'invalid hostPort: 70000'],
  ['80-79', 'invalid containerPort: 80-79'],
  ['90-80:80', 'invalid hostPort: 90-80'],
  ['8000-:80', 'invalid hostPort: 8000-'],
  ['-80', 'invalid containerPort: -80'],
  ['a:b:c:d:e', 'invalid IP address: a:b:c'],
  ['1.2.3.4:', 'no port specified: 1.2.3.4:<empty>'],
  [' 80', 'invalid containerPort:  80'],
  ['published=8080,bogus', "invalid publish opts format (should be name=value but got 'bogus')"],
  ['fe80::1%eth0:80:80', 'invalid IP address: fe80::1%eth0'],
  ['01.2.3.4:80:80', 'invalid IP address: 01.2.3.4'],
];

describe('-p/--publish', () => {
  it('binds and exposes what docker does for each spelling of a spec', () => {
    for (const [spec, want] of valid) {
      const { exposed, bindings } = parsePortSpecs([spec]);
      assert.deepEqual(compact(bindings), want, spec);
      assert.deepEqual(Object.keys(exposed).sort(), Object.keys(want).sort(), `${spec}: exposed`);
    }
  });

  it("refuses what docker refuses, in docker's words", () => {
    for (const [spec, message] of invalid) assert.throws(() => parsePortSpecs([spec]), { message }, spec);
  });

  it('keeps every binding of a port published more than once, in order', () => {
    const { bindings } = parsePortSpecs(['80', '8080:80', '1.2.3.4:9090:80', '53/udp']);
    assert.deepEqual(compact(bindings), { '80/tcp': ['|', '|8080', '1.2.3.4|9090'], '53/udp': ['|'] });
  });

  it('goes into the create body with the ports exposed, and a bad spec fails the whole create', () => {
    const body = createBody('busybox', [], flags('-p', '8080:80', '-p', '9000-9001:90-91/udp', '--expose', '7000-7001'));
    assert.deepEqual(body.ExposedPorts, { '80/tcp': {}, '90/udp': {}, '91/udp': {}, '7000/tcp': {}, '7001/tcp': {} });
    assert.deepEqual(compact(body.HostConfig.PortBindings!), { '80/tcp': ['|8080'], '90/udp': ['|9000'], '91/udp': ['|9001'] });
    assert.throws(() => createBody('busybox', [], flags('-p', '8080:80', '-p', 'abc')), { message: 'invalid containerPort: abc' });
  });
});

describe('--expose', () => {
  it('exposes ports and ranges, any protocol, as docker does', () => {
    const cases: Array<[string, string[]]> = [
      ['80', ['80/tcp']],
      ['80/udp', ['80/udp']],
      ['80-82/tcp', ['80/tcp', '81/tcp', '82/tcp']],
      ['80/foo', ['80/foo']],
      ['80/', ['80/tcp']],
      ['1-2-3', ['1/tcp', '2/tcp']],
    ];
    for (const [e, want] of cases) {
      const exposed: Record<string, object> = {};
      addExposedPorts(exposed, [e]);
      assert.deepEqual(Object.keys(exposed), want, e);
    }
  });

  it("refuses what docker refuses, in docker's words", () => {
    const cases: Array<[string, string]> = [
      ['abc', 'invalid range format for --expose: abc, error: strconv.ParseUint: parsing "abc": invalid syntax'],
      ['80:90', 'invalid port format for --expose: 80:90'],
      ['', 'invalid range format for --expose: , error: empty string specified for ports'],
      ['90-80', 'invalid range format for --expose: 90-80, error: invalid range specified for port: 90-80'],
      ['/tcp', 'invalid range format for --expose: /tcp, error: empty string specified for ports'],
      ['70000', 'invalid range format for --expose: 70000, error: strconv.ParseUint: parsing "70000": value out of range'],
    ];
    for (const [e, message] of cases) assert.throws(() => addExposedPorts({}, [e]), { message }, e);
  });
});

describe("run's network flags", () => {
  const net = (...args: string[]) => networkingBody(flags(...args));

  it('sends NetworkMode "default" and an empty default endpoint without --network, as docker does', () => {
    assert.deepEqual(net(), { NetworkMode: 'default', EndpointsConfig: { default: {} } });
    assert.deepEqual(net('--mac-address', '02:42:ac:11:00:02'), { NetworkMode: 'default', EndpointsConfig: { default: { MacAddress: '02:42:ac:11:00:02' } } });
  });

  it('leaves out the endpoint of a single network with nothing to say', () => {
    assert.deepEqual(net('--network', 'foo'), { NetworkMode: 'foo', EndpointsConfig: {} });
    assert.deepEqual(net('--network', 'bridge', '--link', 'x:y'), { NetworkMode: 'bridge', EndpointsConfig: {} });
  });

  it('puts --ip, --network-alias, --link and --mac-address on the first network', () => {
    assert.deepEqual(net('--network', 'foo', '--ip', '10.0.0.5', '--network-alias', 'a', '--network-alias', 'b', '--link', 'x:y', '--mac-address', '02:42:ac:11:00:02'), {
      NetworkMode: 'foo',
      EndpointsConfig: { foo: { Aliases: ['a', 'b'], Links: ['x:y'], IPAMConfig: { IPv4Address: '10.0.0.5' }, MacAddress: '02:42:ac:11:00:02' } },
    });
    assert.deepEqual(net('--net', 'foo', '--net-alias', 'q', '--ip6', '::5'), { NetworkMode: 'foo', EndpointsConfig: { foo: { Aliases: ['q'], IPAMConfig: { IPv6Address: '::5' } } } });
    assert.deepEqual(net('--network', 'foo', '--network', 'bar'), { NetworkMode: 'foo', EndpointsConfig: { foo: {}, bar: {} } });
  });

  it("reads docker's long --network form", () => {
    assert.deepEqual(net('--network', 'name=foo,alias=a,alias=b,ip=10.0.0.9'), { NetworkMode: 'foo', EndpointsConfig: { foo: { Aliases: ['a', 'b'], IPAMConfig: { IPv4Address: '10.0.0.9' } } } });
    assert.throws(() => net('--network', 'name=foo,bogus=1'), { message: 'invalid argument "name=foo,bogus=1" for "--network" flag: invalid field key bogus' });
    assert.throws(() => net('--network', 'alias=x'), { message: 'invalid argument "alias=x" for "--network" flag: network name/id is not specified' });
    assert.throws(() => net('--network', 'name=foo,alias=a', '--network-alias', 'b'), { message: 'conflicting options: cannot specify both --network-alias and per-network alias' });
  });

  it("refuses what docker refuses, in docker's words", () => {
    assert.throws(() => net('--network-alias', 'x'), { message: 'network-scoped aliases are only supported for user-defined networks' });
    assert.throws(() => net('--network', 'foo', '--network', 'host'), { message: 'conflicting options: cannot attach both user-defined and non-user-defined network-modes' });
    assert.throws(() => net('--network', 'foo', '--network', 'foo'), { message: 'network "foo" is specified multiple times' });
    assert.throws(() => createBody('busybox', [], flags('--mac-address', 'zz')), { message: 'zz is not a valid mac address' });
  });

  it('checks and normalizes --dns, --dns-search, --add-host and --link as docker does', () => {
    const hc = createBody(
      'busybox',
      [],
      flags('--link', 'x', '--link', 'y:z', '--dns', '1.1.1.1', '--dns', '0:0::1', '--dns', '::ffff:1.2.3.4', '--dns-search', 'ex.org.', '--dns-option', 'ndots:2', '--dns-opt', 'a', '--add-host', 'h2=::1', '--add-host', 'h3=[::2]', '--add-host', 'g:host-gateway'),
    ).HostConfig;
    assert.deepEqual(hc.Links, ['x', 'y:z']);
    assert.deepEqual(hc.Dns, ['1.1.1.1', '::1', '1.2.3.4']);
    assert.deepEqual(hc.DnsSearch, ['ex.org']);
    assert.deepEqual(hc.DnsOptions, ['ndots:2', 'a']);
    assert.deepEqual(hc.ExtraHosts, ['h2:::1', 'h3:::2', 'g:host-gateway']);
    const refused: Array<[string[], string]> = [
      [['--dns', 'x'], 'invalid argument "x" for "--dns" flag: IP address is not correctly formatted: x'],
      [['--link', 'a:b:c'], 'invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c'],
      [['--add-host', 'foo'], 'invalid argument "foo" for "--add-host" flag: bad format for add-host: "foo"'],
      [['--add-host', 'foo:bar'], 'invalid argument "foo:bar" for "--add-host" flag: invalid IP address in add-host: "bar"'],
      [['--dns-search', '-bad'], 'invalid argument "-bad" for "--dns-search" flag: -bad is not a valid domain'],
    ];
    for (const [args, message] of refused) assert.throws(() => createBody('busybox', [], flags(...args)), { message }, args.join(' '));
  });
});

describe('network create --subnet/--gateway/--ip-range/--aux-address', () => {
  const ipam = (o: Partial<Parameters<typeof ipamConfig>[0]>) => ipamConfig({ subnet: [], ipRange: [], gateway: [], auxAddress: [], ipamDriver: 'default', ipamOpt: [], ...o });

  it('pairs each range, gateway and aux address with the subnet holding it', () => {
    assert.deepEqual(ipam({ subnet: ['10.1.0.0/16', '10.2.0.0/16', 'fd00::/64'], gateway: ['10.2.0.1', '10.1.0.1', 'fd00::1'], ipRange: ['10.1.1.0/24'], auxAddress: ['h=10.1.0.5'] }), {
      Driver: 'default',
      Options: {},
      Config: [
        { Subnet: '10.1.0.0/16', IPRange: '10.1.1.0/24', Gateway: '10.1.0.1', AuxiliaryAddresses: { h: '10.1.0.5' } },
        { Subnet: '10.2.0.0/16', Gateway: '10.2.0.1' },
        { Subnet: 'fd00::/64', Gateway: 'fd00::1' },
      ],
    });
    // a lone subnet is not checked here (the daemon does), as in docker
    assert.deepEqual(ipam({ subnet: ['bad'], ipamOpt: ['a=b'] }), { Driver: 'default', Options: { a: 'b' }, Config: [{ Subnet: 'bad' }] });
  });

  it("refuses what docker refuses, in docker's words", () => {
    const cases: Array<[Partial<Parameters<typeof ipamConfig>[0]>, string]> = [
      [{ gateway: ['10.1.0.1'] }, 'every ip-range or gateway must have a corresponding subnet'],
      [{ subnet: ['10.1.0.0/16'], gateway: ['10.2.0.1'] }, 'no matching subnet for gateway 10.2.0.1'],
      [{ subnet: ['10.1.0.0/16'], gateway: ['bad'] }, 'no matching subnet for gateway bad'],
      [{ subnet: ['10.1.0.0/16', '10.1.2.0/24'] }, 'multiple overlapping subnet configuration is not supported'],
      [{ subnet: ['10.1.0.0/16'], ipRange: ['bad'] }, 'invalid CIDR address: bad'],
      [{ subnet: ['10.1.0.0/16', '10.2.0.0/16'], ipRange: ['10.1.0.0/24', '10.1.1.0/24'] }, 'cannot configure multiple ranges (10.1.1.0/24, 10.1.0.0/24) on the same subnet (10.1.0.0/16)'],
      [{ subnet: ['10.1.0.0/16', '10.2.0.0/16'], gateway: ['10.1.0.1', '10.1.0.2'] }, 'cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)'],
      [{ subnet: ['10.1.0.0/16'], auxAddress: ['h=10.2.0.5'] }, 'no matching subnet for aux-address 10.2.0.5'],
      [{ subnet: ['bad', '10.0.0.0/8'] }, 'invalid subnet: invalid CIDR address: bad'],
    ];
    for (const [o, message] of cases) assert.throws(() => ipam(o), { message }, JSON.stringify(o));
  });
});
