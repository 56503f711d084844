// Address management and the nftables ruleset, as pure logic (the kernel side is test/integration/networking).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressPool, freeSubnet, macFor, overlaps, parseCidr, parseIPv4, ruleset } from '../../src/network/index.js';
import { Conflict, InvalidArgument } from '../../src/errors/index.js';

const cidr = (s: string) => {
  const c = parseCidr(s);
  assert.ok(c, s);
  return c;
};

describe('IPv4 address management', () => {
  it('parses addresses and prefixes, refusing what is not one', () => {
    assert.equal(parseIPv4('10.1.2.3'), ((10 * 256 + 1) * 256 + 2) * 256 + 3);
    for (const bad of ['10.1.2', '256.1.1.1', '1.2.3.4.5', 'a.b.c.d', '']) assert.equal(parseIPv4(bad), undefined, bad);
    assert.deepEqual(parseCidr('10.1.2.3/16'), { base: parseIPv4('10.1.0.0'), prefix: 16 });
    for (const bad of ['10.0.0.0/33', '10.0.0.0/x', '10.0.0/8', '10.0.0.0/8/1']) assert.equal(parseCidr(bad), undefined, bad);
    assert.ok(overlaps(cidr('10.0.0.0/8'), cidr('10.213.0.0/24')));
    assert.ok(!overlaps(cidr('10.213.0.0/24'), cidr('10.213.1.0/24')));
  });

  it("takes the first default pool no route or network uses, never docker0's", () => {
    assert.equal(freeSubnet([]).base, parseIPv4('172.18.0.0'));
    assert.equal(freeSubnet([cidr('172.18.0.0/16'), cidr('172.19.5.0/24')]).base, parseIPv4('172.20.0.0'));
    // A default route covers nothing here (only prefixes of routes are passed), a /8 covering 172.16/12 skips them all.
    const rest = freeSubnet([cidr('172.16.0.0/12')]);
    assert.deepEqual(rest, { base: parseIPv4('192.168.0.0'), prefix: 20 });
  });

  it('hands out addresses in order, skipping the network, gateway and broadcast addresses, never twice', () => {
    const pool = new AddressPool(cidr('10.9.0.0/29'), parseIPv4('10.9.0.1') as number);
    const got = [1, 2, 3, 4, 5].map((i) => pool.allocate(`c${i}`));
    assert.deepEqual(got, ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
    assert.throws(() => pool.allocate('c6'), Conflict);
    // A released address is not reused at once: the next comes after the last one given, wrapping round.
    pool.release('10.9.0.3', 'c2');
    pool.release('10.9.0.5', 'c4');
    assert.equal(pool.allocate('c7'), '10.9.0.3');
    // Only its owner releases an address.
    pool.release('10.9.0.2', 'someone-else');
    assert.throws(() => pool.allocate('c8', '10.9.0.2'), /Address already in use: 10.9.0.2/);
  });

  it('static addresses: inside the subnet, not the gateway, not taken; --ip-range bounds the dynamic ones', () => {
    const pool = new AddressPool(cidr('10.8.0.0/24'), parseIPv4('10.8.0.1') as number, cidr('10.8.0.128/25'));
    assert.equal(pool.allocate('a'), '10.8.0.128');
    assert.equal(pool.allocate('b', '10.8.0.50'), '10.8.0.50');
    assert.throws(() => pool.allocate('c', '10.9.0.5'), InvalidArgument);
    assert.throws(() => pool.allocate('c', '10.8.0.1'), InvalidArgument);
    assert.throws(() => pool.allocate('c', '10.8.0.50'), Conflict);
    pool.reserve('10.8.0.129', 'adopted');
    assert.equal(pool.allocate('d'), '10.8.0.130');
    assert.equal(pool.inUse(), 4);
  });

  it("derives MACs from addresses as Docker does", () => {
    assert.equal(macFor('172.18.0.2'), '02:42:ac:12:00:02');
  });
});

describe('the nftables ruleset', () => {
  const networks = [
    { bridge: 'berth0', subnet: '172.18.0.0/16', internal: false },
    { bridge: 'berth-sealed', subnet: '10.5.0.0/24', internal: true },
  ];
  const text = ruleset('berth', networks, [
    { hostIp: '127.0.0.1', hostPort: 8080, protocol: 'tcp', containerIp: '172.18.0.2', containerPort: 80 },
    { hostIp: '0.0.0.0', hostPort: 5353, protocol: 'udp', containerIp: '172.18.0.3', containerPort: 53 },
  ]);

  it('replaces its own table whole, in one transaction', () => {
    assert.match(text, /^table ip berth\ndelete table ip berth\ntable ip berth \{/);
  });
  it('publishes ports by DNAT, bound to an address when one is given', () => {
    assert.match(text, /^ {4}ip daddr 127\.0\.0\.1 tcp dport 8080 dnat to 172\.18\.0\.2:80$/m);
    assert.match(text, /^ {4}udp dport 5353 dnat to 172\.18\.0\.3:53$/m);
  });
  it('masquerades egress of non-internal networks only, and cuts internal ones off', () => {
    assert.match(text, /ip saddr 172\.18\.0\.0\/16 oifname != "berth0" masquerade/);
    assert.doesNotMatch(text, /ip saddr 10\.5\.0\.0\/24 oifname != "berth-sealed" masquerade/);
    assert.match(text, /iifname "berth-sealed" oifname != "berth-sealed" drop/);
    assert.match(text, /oifname "berth-sealed" iifname != "berth-sealed" drop/);
  });
  it('isolates bridges from each other, except through published ports', () => {
    const forward = text.slice(text.indexOf('chain forward'));
    assert.ok(forward.indexOf('ct status dnat accept') < forward.indexOf('iifname "berth0" oifname @bridges oifname != "berth0" drop'));
  });
});
